//! Struct payloads (`before`, `after`, the record key) into [`Row`]s.
//!
//! With a schema every field is typed and keeps the schema's order. Without one the payload's
//! own order is kept (serde_json `preserve_order`) and values stay [`Value::Untyped`] for the
//! sink to convert with the target column's type; only the TOAST placeholder is recognised,
//! because writing it would corrupt the target.
//!
//! What a struct schema says about each field (its logical type, column type, default) is
//! worked out once per schema, as a [`Layout`], and kept while the schema document is cached
//! (see `converter`): records then only convert their values.

use super::binary::is_placeholder;
use super::object::{Node, Object};
use super::schema::{logical, Logical, Schema};
use super::DecodeError;
use crate::event::{ColumnType, Field, Row, Value};
use serde_json::Value as Json;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

/// Layouts kept per decoding thread before the cache starts over.
const LAYOUT_CACHE_LIMIT: usize = 1024;

thread_local! {
    /// Layouts by the address of their struct schema inside a shared schema document, each
    /// entry holding that document so the address cannot be reused while it is cached.
    static LAYOUTS: RefCell<HashMap<usize, Vec<Cached>>> = RefCell::new(HashMap::new());
}

/// An entry of [`LAYOUTS`].
struct Cached {
    /// The path the layout was made for (it names fields in errors).
    path: Box<str>,
    /// The schema document the struct schema lives in.
    _document: Arc<Json>,
    layout: Rc<Layout>,
}

/// Builds a row from a struct payload, typed when `schema` is given; `path` names it in errors.
/// `document` is the shared schema document `schema` lives in, when there is one: the
/// schema's layout is then cached.
pub(crate) fn build(
    schema: Option<Schema<'_>>,
    document: Option<&Arc<Json>>,
    payload: Node<'_>,
    path: &str,
) -> Result<Row, DecodeError> {
    let Some(object) = payload.as_object() else {
        return Err(DecodeError::bad_field(
            path,
            format!("expected a struct object, got {}", payload.type_name()),
        ));
    };
    match schema {
        Some(schema) if schema.type_name() == "struct" => {
            let layout = match document {
                Some(document) => cached_layout(schema, document, path)?,
                None => Rc::new(Layout::new(schema, path)?),
            };
            layout.fill(object)
        }
        _ => Ok(untyped(object)),
    }
}

/// The layout of `schema` (a struct schema inside `document`), made once per thread.
fn cached_layout(
    schema: Schema<'_>,
    document: &Arc<Json>,
    path: &str,
) -> Result<Rc<Layout>, DecodeError> {
    let address = schema.address();
    let hit = LAYOUTS.with(|cache| {
        let cache = cache.borrow();
        let entries = cache.get(&address)?;
        entries
            .iter()
            .find(|c| &*c.path == path)
            .map(|c| c.layout.clone())
    });
    if let Some(layout) = hit {
        return Ok(layout);
    }
    let layout = Rc::new(Layout::new(schema, path)?);
    LAYOUTS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= LAYOUT_CACHE_LIMIT {
            cache.clear();
        }
        cache.entry(address).or_default().push(Cached {
            path: path.into(),
            _document: document.clone(),
            layout: layout.clone(),
        });
    });
    Ok(layout)
}

/// What a struct schema says about each of its fields, in schema order.
struct Layout {
    slots: Vec<Slot>,
    /// The declared field names, to find payload fields the schema does not declare.
    declared: HashSet<String>,
}

/// One declared field of a [`Layout`].
struct Slot {
    name: String,
    /// `<struct path>.<name>`, for errors.
    path: String,
    kind: Logical,
    column_type: ColumnType,
    optional: bool,
    default: Option<Box<Value>>,
}

impl Layout {
    fn new(schema: Schema<'_>, path: &str) -> Result<Layout, DecodeError> {
        let declared = schema.fields(path)?;
        let mut slots = Vec::with_capacity(declared.len());
        for (name, field_schema) in &declared {
            let field_path = format!("{path}.{name}");
            let kind = logical(*field_schema, &field_path)?;
            // A default that does not convert is ignored: it only matters for adding the
            // column.
            let default = field_schema
                .default()
                .and_then(|d| kind.convert(d, &field_path).ok())
                .filter(|d| !matches!(d, Value::Null | Value::Unavailable))
                .map(Box::new);
            slots.push(Slot {
                name: (*name).to_string(),
                column_type: kind.column_type(&field_path)?,
                path: field_path,
                kind,
                optional: field_schema.optional(),
                default,
            });
        }
        let declared = slots.iter().map(|s| s.name.clone()).collect();
        Ok(Layout { slots, declared })
    }

    /// The typed row of a payload object. A payload field the schema does not declare is kept
    /// untyped rather than dropped: losing a column silently is worse than converting it late.
    fn fill(&self, object: Object<'_>) -> Result<Row, DecodeError> {
        let mut fields = Vec::with_capacity(self.slots.len());
        // Debezium writes a payload's fields in schema order: they are matched in step, and
        // looked up by name from the first one out of step.
        let mut entries = object.iter();
        let mut in_step = true;
        for slot in &self.slots {
            let next = if in_step { entries.next() } else { None };
            let payload = match next {
                Some((name, value)) if name == slot.name => value.json(),
                _ => {
                    in_step = false;
                    object
                        .get(&slot.name)
                        .map_or(Cow::Borrowed(&Json::Null), Node::json)
                }
            };
            fields.push(Field {
                name: slot.name.clone(),
                value: slot.kind.convert(&payload, &slot.path)?,
                column_type: Some(slot.column_type.clone()),
                optional: slot.optional,
                default: slot.default.clone(),
            });
        }
        let all_matched = in_step && entries.next().is_none();
        if !all_matched {
            for (name, value) in object.iter() {
                if !self.declared.contains(name) {
                    fields.push(untyped_field(name, &value.json()));
                }
            }
        }
        Ok(Row { fields })
    }
}

/// Schemaless row: every field untyped and nullable.
fn untyped(object: Object<'_>) -> Row {
    Row {
        fields: object
            .iter()
            .map(|(n, v)| untyped_field(n, &v.json()))
            .collect(),
    }
}

/// A schemaless field. Without a schema a bytea column is indistinguishable from text, so the
/// placeholder's base64 form is recognised too (its text is not a plausible real value).
fn untyped_field(name: &str, value: &Json) -> Field {
    let value = if is_placeholder(value, true) {
        Value::Unavailable
    } else {
        Value::untyped(value.clone())
    };
    Field {
        name: name.to_string(),
        value,
        column_type: None,
        optional: true,
        default: None,
    }
}
