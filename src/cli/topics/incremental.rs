//! IncrementalAlterConfigs (KIP-339) through librdkafka's C API.
//!
//! rdkafka 0.39 wraps only the legacy AlterConfigs, which replaces a topic's whole config (every
//! key not sent goes back to its default) and which tansu does not implement. librdkafka has had
//! the incremental call since 2.2; this is the one place sluice calls it: SET of the given keys
//! on one topic, nothing else touched.

use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;
use std::ffi::{c_char, CStr, CString};
use std::time::Duration;

/// Why the broker did not take the configs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlterError {
    /// A key or value holds a NUL byte (cannot be passed to librdkafka).
    #[error("{0:?} holds a NUL byte")]
    Nul(String),
    /// librdkafka refused the request before sending it.
    #[error("{0}")]
    Request(String),
    /// No answer within the timeout.
    #[error("no answer within {0} s")]
    Timeout(u64),
    /// The broker answered with an error.
    #[error("{0}")]
    Broker(String),
}

/// A librdkafka object destroyed when dropped, on every path.
struct Owned<T>(*mut T, unsafe extern "C" fn(*mut T));

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from the matching `_new` call and is destroyed once.
            unsafe { (self.1)(self.0) }
        }
    }
}

/// A C string librdkafka owns, copied (`None` for NULL or empty).
fn text(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: librdkafka returns NUL-terminated strings that live as long as their object,
    // which outlives this copy.
    let s = unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned();
    (!s.is_empty()).then_some(s)
}

fn c(s: &str) -> Result<CString, AlterError> {
    CString::new(s).map_err(|_| AlterError::Nul(s.to_string()))
}

/// Sets `entries` on `topic`, blocking until the broker answers or `timeout` passes.
pub fn set_topic_configs(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
    entries: &[(String, String)],
    timeout: Duration,
) -> Result<(), AlterError> {
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let name = c(topic)?;
    let entries = entries
        .iter()
        .map(|(k, v)| Ok((c(k)?, c(v)?)))
        .collect::<Result<Vec<_>, AlterError>>()?;
    let rk = admin.inner().native_ptr();
    // SAFETY (this block and the calls below): `rk` is the live handle of `admin`, borrowed for
    // the whole call; every object created here is owned by an `Owned` guard and destroyed once;
    // librdkafka copies the resource array into the request, so the guards may drop after it.
    let queue = Owned(
        unsafe { rd::rd_kafka_queue_new(rk) },
        rd::rd_kafka_queue_destroy,
    );
    let options = Owned(
        unsafe {
            rd::rd_kafka_AdminOptions_new(
                rk,
                rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
            )
        },
        rd::rd_kafka_AdminOptions_destroy,
    );
    let mut errstr = [0 as c_char; 512];
    let err = unsafe {
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options.0,
            millis,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Err(AlterError::Request(
            text(errstr.as_ptr()).unwrap_or_else(|| "request timeout refused".into()),
        ));
    }
    let resource = Owned(
        unsafe {
            rd::rd_kafka_ConfigResource_new(
                rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
                name.as_ptr(),
            )
        },
        rd::rd_kafka_ConfigResource_destroy,
    );
    for (key, value) in &entries {
        let error = unsafe {
            rd::rd_kafka_ConfigResource_add_incremental_config(
                resource.0,
                key.as_ptr(),
                rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
                value.as_ptr(),
            )
        };
        if !error.is_null() {
            let error = Owned(error, rd::rd_kafka_error_destroy);
            let reason = text(unsafe { rd::rd_kafka_error_string(error.0) });
            return Err(AlterError::Request(
                reason.unwrap_or_else(|| "config entry refused".into()),
            ));
        }
    }
    let mut resources = [resource.0];
    unsafe {
        rd::rd_kafka_IncrementalAlterConfigs(rk, resources.as_mut_ptr(), 1, options.0, queue.0);
    }
    // The request timeout bounds the answer; a little more for the queue itself.
    let event = Owned(
        unsafe { rd::rd_kafka_queue_poll(queue.0, millis.saturating_add(5_000)) },
        rd::rd_kafka_event_destroy,
    );
    if event.0.is_null() {
        return Err(AlterError::Timeout(timeout.as_secs()));
    }
    if unsafe { rd::rd_kafka_event_error(event.0) }
        != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
    {
        let reason = text(unsafe { rd::rd_kafka_event_error_string(event.0) });
        return Err(AlterError::Broker(
            reason.unwrap_or_else(|| "request failed".into()),
        ));
    }
    if unsafe { rd::rd_kafka_event_type(event.0) }
        != rd::RD_KAFKA_EVENT_INCREMENTALALTERCONFIGS_RESULT
    {
        return Err(AlterError::Broker(
            "unexpected answer from librdkafka".into(),
        ));
    }
    let result = unsafe { rd::rd_kafka_event_IncrementalAlterConfigs_result(event.0) };
    let mut count = 0usize;
    let answered =
        unsafe { rd::rd_kafka_IncrementalAlterConfigs_result_resources(result, &mut count) };
    for i in 0..count {
        // SAFETY: `answered` holds `count` resource pointers owned by `event`.
        let resource = unsafe { *answered.add(i) };
        let err = unsafe { rd::rd_kafka_ConfigResource_error(resource) };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            let reason = text(unsafe { rd::rd_kafka_ConfigResource_error_string(resource) })
                .or_else(|| text(unsafe { rd::rd_kafka_err2str(err) }))
                .unwrap_or_else(|| format!("{err:?}"));
            return Err(AlterError::Broker(reason));
        }
    }
    Ok(())
}
