//! Every Kafka call of `sluice topics apply`: what the cluster holds (Metadata,
//! DescribeConfigs) and the changes (CreateTopics, CreatePartitions, IncrementalAlterConfigs),
//! through one admin client built by [`WorkerConfig::client_config`].

use super::incremental::{self, AlterError};
use crate::config::topics::{ActualTopic, Change, TopicDefinitions};
use crate::config::{ClientRole, WorkerConfig};
use rdkafka::admin::OwnedResourceSpecifier;
use rdkafka::admin::{
    AdminClient, AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why the cluster could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The admin client could not be built (a bad client setting).
    #[error("admin client: {0}")]
    Client(#[source] KafkaError),
    /// The cluster's metadata could not be read (unreachable, refused login...).
    #[error("metadata: {0}")]
    Metadata(#[source] KafkaError),
    /// A blocking call's thread went away.
    #[error("the admin thread stopped")]
    Thread,
    /// DescribeConfigs failed for a topic (or the whole request).
    #[error("describe configs of {topic}: {reason}")]
    Describe {
        /// The topic ("every topic" when the whole request failed).
        topic: String,
        /// The broker's or librdkafka's reason.
        reason: String,
    },
    /// A change the broker did not make: its reason.
    #[error("{0}")]
    Rejected(String),
    /// IncrementalAlterConfigs failed.
    #[error(transparent)]
    Alter(#[from] AlterError),
}

/// An admin client of the worker's cluster.
pub struct Broker {
    admin: Arc<AdminClient<DefaultClientContext>>,
}

impl Broker {
    /// Builds the admin client (no request yet).
    pub fn connect(worker: &WorkerConfig) -> Result<Broker, BrokerError> {
        let admin = worker
            .client_config(ClientRole::Admin)
            .create()
            .map_err(BrokerError::Client)?;
        Ok(Broker {
            admin: Arc::new(admin),
        })
    }

    fn options() -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(TIMEOUT))
            .operation_timeout(Some(TIMEOUT))
    }

    /// Every topic the cluster has, with the configs of those the definitions select.
    pub async fn topics(
        &self,
        definitions: &TopicDefinitions,
    ) -> Result<Vec<ActualTopic>, BrokerError> {
        let admin = self.admin.clone();
        let metadata = tokio::task::spawn_blocking(move || {
            admin.inner().fetch_metadata(None, Duration::from_secs(10))
        })
        .await
        .map_err(|_| BrokerError::Thread)?
        .map_err(BrokerError::Metadata)?;
        let mut topics: Vec<ActualTopic> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| ActualTopic {
                name: t.name().to_string(),
                partitions: t.partitions().len() as i32,
                replicas: t
                    .partitions()
                    .first()
                    .map_or(0, |p| p.replicas().len() as i16),
                config: BTreeMap::new(),
            })
            .collect();
        let wanted: Vec<String> = topics
            .iter()
            .map(|t| t.name.clone())
            .filter(|name| definitions.selects(name))
            .collect();
        if wanted.is_empty() {
            return Ok(topics);
        }
        let specifiers: Vec<ResourceSpecifier<'_>> =
            wanted.iter().map(|n| ResourceSpecifier::Topic(n)).collect();
        let described = self
            .admin
            .describe_configs(&specifiers, &Self::options())
            .await
            .map_err(|e| BrokerError::Describe {
                topic: "every topic".into(),
                reason: e.to_string(),
            })?;
        let mut configs: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        for (name, result) in wanted.iter().zip(described) {
            let resource = result.map_err(|code| BrokerError::Describe {
                topic: name.clone(),
                reason: code.to_string(),
            })?;
            let topic = match &resource.specifier {
                OwnedResourceSpecifier::Topic(t) => t.clone(),
                _ => name.clone(),
            };
            let entries = resource
                .entries
                .into_iter()
                .filter_map(|e| Some((e.name, e.value?)))
                .collect();
            configs.insert(topic, entries);
        }
        for topic in &mut topics {
            if let Some(config) = configs.remove(&topic.name) {
                topic.config = config;
            }
        }
        Ok(topics)
    }

    /// Makes the changes of a plan (refusals and notes are skipped): creations, then partition
    /// raises, then configs, each kind in one request (configs: one per topic). Returns the
    /// outcome of each change, in the plan's order.
    pub async fn apply(&self, changes: &[Change]) -> Vec<Result<(), BrokerError>> {
        let mut outcomes: Vec<Result<(), BrokerError>> = changes.iter().map(|_| Ok(())).collect();
        let creates = self.create(changes).await;
        let raises = self.raise(changes).await;
        let mut configs: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
        for change in changes {
            if let Change::SetConfig { topic, key, to, .. } = change {
                configs
                    .entry(topic)
                    .or_default()
                    .push((key.clone(), to.clone()));
            }
        }
        let mut set: HashMap<String, Result<(), AlterError>> = HashMap::new();
        for (topic, entries) in configs {
            let admin = self.admin.clone();
            let name = topic.to_string();
            let outcome = tokio::task::spawn_blocking(move || {
                incremental::set_topic_configs(&admin, &name, &entries, TIMEOUT)
            })
            .await
            .unwrap_or_else(|_| Err(AlterError::Request("the admin thread stopped".into())));
            set.insert(topic.to_string(), outcome);
        }
        for (change, outcome) in changes.iter().zip(outcomes.iter_mut()) {
            let failed = match change {
                Change::Create { topic, .. } => creates.get(topic).cloned(),
                Change::RaisePartitions { topic, .. } => raises.get(topic).cloned(),
                Change::SetConfig { topic, .. } => match set.get(topic) {
                    Some(Err(e)) => Some(e.to_string()),
                    _ => None,
                },
                Change::Refuse { .. } | Change::NoMatch { .. } => None,
            };
            if let Some(reason) = failed {
                *outcome = Err(BrokerError::Rejected(reason));
            }
        }
        outcomes
    }

    /// CreateTopics for every `Create`; the failed topics with their reasons.
    async fn create(&self, changes: &[Change]) -> HashMap<String, String> {
        let new: Vec<NewTopic<'_>> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Create {
                    topic,
                    partitions,
                    replicas,
                    config,
                } => {
                    let replication = TopicReplication::Fixed(replicas.map_or(-1, i32::from));
                    let mut new = NewTopic::new(topic, *partitions, replication);
                    for (key, value) in config {
                        new = new.set(key, value);
                    }
                    Some(new)
                }
                _ => None,
            })
            .collect();
        if new.is_empty() {
            return HashMap::new();
        }
        let names = new.iter().map(|n| n.name.to_string());
        match self.admin.create_topics(&new, &Self::options()).await {
            Ok(results) => failures(results),
            Err(e) => names
                .map(|n| (n, request_error("CreateTopics", &e)))
                .collect(),
        }
    }

    /// CreatePartitions for every `RaisePartitions`; the failed topics with their reasons.
    async fn raise(&self, changes: &[Change]) -> HashMap<String, String> {
        let new: Vec<NewPartitions<'_>> = changes
            .iter()
            .filter_map(|c| match c {
                Change::RaisePartitions { topic, to, .. } => {
                    Some(NewPartitions::new(topic, *to as usize))
                }
                _ => None,
            })
            .collect();
        if new.is_empty() {
            return HashMap::new();
        }
        let names = new.iter().map(|n| n.topic_name.to_string());
        match self.admin.create_partitions(&new, &Self::options()).await {
            Ok(results) => failures(results),
            Err(e) => names
                .map(|n| (n, request_error("CreatePartitions", &e)))
                .collect(),
        }
    }
}

/// A whole request's failure; names the Kafka API when the broker does not implement it
/// (librdkafka checks the broker's ApiVersions before sending: tansu 0.6 has no
/// CreatePartitions).
fn request_error(api: &str, error: &KafkaError) -> String {
    match error {
        KafkaError::AdminOp(RDKafkaErrorCode::UnsupportedFeature) => {
            format!("the broker does not implement {api} ({error})")
        }
        _ => error.to_string(),
    }
}

/// The failed topics of a per-topic admin result.
fn failures(results: Vec<rdkafka::admin::TopicResult>) -> HashMap<String, String> {
    results
        .into_iter()
        .filter_map(|r| r.err())
        .map(|(topic, code)| (topic, code.to_string()))
        .collect()
}
