//! Transform: Kafka Connect single message transforms (SMTs) and predicates, configured with
//! Connect's own keys (`transforms`, `transforms.<alias>.type`, `predicates`, ...), applied in
//! order to each decoded [`ChangeEvent`].
//!
//! sluice's change events are already rows, so the transforms act on what a sink writes:
//! `$Value` variants on the row images (`after`, and `before` so deletes and TOAST carry-over
//! see the same columns), `$Key` variants on the key struct (and the old key of a primary-key
//! change). Debezium's `ExtractNewRecordState` (`unwrap`), which configs written for
//! Confluent's JDBC sink carry, is understood: it keeps the row, and its delete handling and
//! `add.fields` are honoured.
//!
//! A transform is `ChangeEvent -> Option<ChangeEvent>`: `None` drops the record (it is still
//! checkpointed and counted as filtered). A transform that cannot handle a record returns a
//! [`TransformError`] naming the transform; the pipeline treats it as a bad record.

mod cast;
mod config;
mod fields;
mod predicate;
mod timestamp;
mod unwrap;

#[cfg(test)]
mod tests;

pub use config::parse_chain;

use crate::event::{ChangeEvent, Row};
use predicate::Predicate;

/// The ordered transforms of one connector; empty when `transforms` is not set.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    steps: Vec<Step>,
}

/// One configured transform with its optional predicate.
#[derive(Debug, Clone)]
struct Step {
    /// The alias from `transforms` (names the transform in errors).
    alias: String,
    /// `transforms.<alias>.type` as configured (a dead letter's `class.name`).
    class: String,
    transform: Transform,
    /// `transforms.<alias>.predicate`, and whether `negate` is set.
    predicate: Option<(Predicate, bool)>,
}

/// Which part of the record a `$Key` / `$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The key struct (and the old key of a primary-key change).
    Key,
    /// The row images.
    Value,
}

/// A transform, configured.
#[derive(Debug, Clone)]
enum Transform {
    /// `RegexRouter`: renames the topic (and so the `${topic}` table name).
    Route(fields::Route),
    /// `ReplaceField`: include/exclude/rename columns.
    Replace(Part, fields::Replace),
    /// `MaskField`: replace values with a type's empty value or a given replacement.
    Mask(Part, fields::Mask),
    /// `InsertField`: add columns from the Kafka record or a static value.
    Insert(Part, fields::Insert),
    /// `ValueToKey`: the key becomes the listed columns of the row.
    ValueToKey(Vec<String>),
    /// `Cast`: change column types.
    Cast(Part, cast::Cast),
    /// `TimestampConverter`: convert a column between timestamp forms.
    Timestamp(Part, timestamp::Converter),
    /// `Filter`: drop the record (usually under a predicate).
    Filter,
    /// Debezium's `ExtractNewRecordState` or Connect's `ExtractField$Value` with `field=after`.
    Unwrap(unwrap::Unwrap),
}

/// A transform failed on a record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("transform {alias}: {reason}")]
pub struct TransformError {
    /// The transform's alias.
    pub alias: String,
    /// What went wrong.
    pub reason: String,
}

/// Record headers as the source thread has them.
pub type Headers<'a> = &'a [(String, Option<Vec<u8>>)];

impl Chain {
    /// Whether no transform is configured.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The `source` block fields the transforms read as text (an unwrap's `add.fields`).
    pub fn source_fields(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|step| match &step.transform {
                Transform::Unwrap(unwrap) => Some(unwrap.source_fields()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The configured `type` of the transform `alias`.
    pub fn class_of(&self, alias: &str) -> Option<&str> {
        self.steps
            .iter()
            .find(|s| s.alias == alias)
            .map(|s| s.class.as_str())
    }

    /// Runs the chain on one change. `None`: a transform dropped the record.
    pub fn apply(
        &self,
        mut event: ChangeEvent,
        headers: Headers<'_>,
    ) -> Result<Option<ChangeEvent>, TransformError> {
        for step in &self.steps {
            if let Some((predicate, negate)) = &step.predicate {
                if predicate.test(&event, headers) == *negate {
                    continue;
                }
            }
            let fail = |reason: String| TransformError {
                alias: step.alias.clone(),
                reason,
            };
            event = match step.transform.apply(event).map_err(fail)? {
                Some(event) => event,
                None => return Ok(None),
            };
        }
        Ok(Some(event))
    }
}

impl Transform {
    fn apply(&self, mut event: ChangeEvent) -> Result<Option<ChangeEvent>, String> {
        match self {
            Transform::Route(route) => {
                if let Some(topic) = route.rename(event.topic()) {
                    event.route = Some(topic);
                }
            }
            Transform::Replace(part, replace) => {
                rows(&mut event, *part, |row| {
                    replace.apply(row);
                    Ok(())
                })?;
            }
            Transform::Mask(part, mask) => rows(&mut event, *part, |row| mask.apply(row))?,
            Transform::Insert(part, insert) => {
                let values = insert.values(&event);
                rows(&mut event, *part, |row| insert.apply(row, &values))?;
            }
            Transform::ValueToKey(fields) => fields::value_to_key(&mut event, fields)?,
            Transform::Cast(part, cast) => rows(&mut event, *part, |row| cast.apply(row))?,
            Transform::Timestamp(part, converter) => {
                rows(&mut event, *part, |row| converter.apply(row))?
            }
            Transform::Filter => return Ok(None),
            Transform::Unwrap(unwrap) => return Ok(unwrap.apply(event)),
        }
        Ok(Some(event))
    }
}

/// Applies `f` to every row image of `part`: the key and old key, or `before` and `after`.
fn rows(
    event: &mut ChangeEvent,
    part: Part,
    mut f: impl FnMut(&mut Row) -> Result<(), String>,
) -> Result<(), String> {
    match part {
        Part::Key => {
            f(&mut event.key)?;
            if let Some(old) = event.old_key.as_mut() {
                f(old)?;
            }
        }
        Part::Value => {
            for image in [event.before.as_mut(), event.after.as_mut()]
                .into_iter()
                .flatten()
            {
                f(image)?;
            }
        }
    }
    Ok(())
}
