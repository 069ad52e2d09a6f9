//! JSON objects as the decoder reads them: a serde_json map, or members read flat from the
//! record bytes.
//!
//! A JsonConverter payload is read once per record. Reading it into a `serde_json::Value`
//! builds an index map (a hashed key and an allocated name per member) for the envelope and
//! for each of its blocks, only for the decoder to look a handful of them up once. The flat
//! form keeps each object's members in a list, in document order, with names borrowed from the
//! record where they have no escapes; values below the envelope's blocks stay
//! `serde_json::Value`s. [`Object`] and [`Node`] read both forms alike, so the Avro path and
//! payloads without a wrapper keep their maps.

use super::converter::json_type;
use serde::de::value::SeqAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value as Json};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// The member name serde_json (with `arbitrary_precision`) uses to hand a number to a
/// visitor as a one-member map; a payload reading it as an object would turn `5` into a struct.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Above this many members, duplicate names are found with a hash set instead of by scanning.
const SCAN_LIMIT: usize = 32;

/// A record's payload, read flat: the envelope's members, each a JSON value or a flat object.
#[derive(Debug)]
pub(crate) enum Payload<'b> {
    /// An object (the envelope), members flat.
    Object(Vec<(Cow<'b, str>, Member<'b>)>),
    /// Anything else (null, a number, ...).
    Json(Json),
}

/// A member of a flat [`Payload`]: a block such as `before` or `source` read flat, or any
/// other JSON value.
#[derive(Debug)]
pub(crate) enum Member<'b> {
    /// An object, members flat with JSON values.
    Object(Vec<(Cow<'b, str>, Json)>),
    /// Anything else.
    Json(Json),
}

/// A JSON object, in either form.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Object<'p> {
    /// A serde_json map.
    Map(&'p Map<String, Json>),
    /// Flat members with JSON values.
    Flat(&'p [(Cow<'p, str>, Json)]),
    /// A flat payload's envelope, whose members may be flat objects.
    Envelope(&'p [(Cow<'p, str>, Member<'p>)]),
}

/// A JSON value, in either form.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Node<'p> {
    /// A serde_json value (objects included).
    Json(&'p Json),
    /// A flat object.
    Object(Object<'p>),
}

impl<'p> Object<'p> {
    /// The number of members.
    pub(crate) fn len(self) -> usize {
        match self {
            Object::Map(m) => m.len(),
            Object::Flat(f) => f.len(),
            Object::Envelope(e) => e.len(),
        }
    }

    /// The member named `key`.
    pub(crate) fn get(self, key: &str) -> Option<Node<'p>> {
        match self {
            Object::Map(m) => m.get(key).map(Node::Json),
            Object::Flat(f) => f.iter().find(|(k, _)| k == key).map(|(_, v)| Node::Json(v)),
            Object::Envelope(e) => e.iter().find(|(k, _)| k == key).map(|(_, v)| v.node()),
        }
    }

    /// Whether a member is named `key`.
    pub(crate) fn contains_key(self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The members in document order.
    pub(crate) fn iter(self) -> Box<dyn Iterator<Item = (&'p str, Node<'p>)> + 'p> {
        match self {
            Object::Map(m) => Box::new(m.iter().map(|(k, v)| (k.as_str(), Node::Json(v)))),
            Object::Flat(f) => Box::new(f.iter().map(|(k, v)| (k.as_ref(), Node::Json(v)))),
            Object::Envelope(e) => Box::new(e.iter().map(|(k, v)| (k.as_ref(), v.node()))),
        }
    }

    /// As a serde_json map (copied).
    fn to_json(self) -> Json {
        Json::Object(
            self.iter()
                .map(|(k, v)| (k.to_string(), v.json().into_owned()))
                .collect(),
        )
    }
}

impl<'p> Node<'p> {
    /// Whether this is JSON `null`.
    pub(crate) fn is_null(self) -> bool {
        matches!(self, Node::Json(Json::Null))
    }

    /// The object, if this is one.
    pub(crate) fn as_object(self) -> Option<Object<'p>> {
        match self {
            Node::Object(o) => Some(o),
            Node::Json(Json::Object(m)) => Some(Object::Map(m)),
            Node::Json(_) => None,
        }
    }

    /// The string, if this is one.
    pub(crate) fn as_str(self) -> Option<&'p str> {
        match self {
            Node::Json(j) => j.as_str(),
            Node::Object(_) => None,
        }
    }

    /// The integer, if this is one that fits an i64.
    pub(crate) fn as_i64(self) -> Option<i64> {
        match self {
            Node::Json(j) => j.as_i64(),
            Node::Object(_) => None,
        }
    }

    /// As a serde_json value: borrowed, except for a flat object (copied).
    pub(crate) fn json(self) -> Cow<'p, Json> {
        match self {
            Node::Json(j) => Cow::Borrowed(j),
            Node::Object(o) => Cow::Owned(o.to_json()),
        }
    }

    /// The JSON type, for error messages.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Node::Json(j) => json_type(j),
            Node::Object(_) => "an object",
        }
    }
}

impl<'b> Member<'b> {
    fn node(&self) -> Node<'_> {
        match self {
            Member::Object(members) => Node::Object(Object::Flat(members)),
            Member::Json(j) => Node::Json(j),
        }
    }
}

impl<'b> Payload<'b> {
    /// Reads a payload from a JSON deserializer.
    pub(crate) fn read<D: Deserializer<'b>>(deserializer: D) -> Result<Payload<'b>, D::Error> {
        Ok(
            match deserializer.deserialize_any(Flat::<Member<'b>>(PhantomData))? {
                Read::Object(members) => Payload::Object(members),
                Read::Json(json) => Payload::Json(json),
            },
        )
    }

    /// The payload as a node.
    pub(crate) fn node(&self) -> Node<'_> {
        match self {
            Payload::Object(members) => Node::Object(Object::Envelope(members)),
            Payload::Json(j) => Node::Json(j),
        }
    }
}

/// What [`Flat`] read: an object's members, or another JSON value.
enum Read<'b, V> {
    Object(Vec<(Cow<'b, str>, V)>),
    Json(Json),
}

/// A visitor reading an object flat, with member values of type `V`, and anything else as
/// JSON.
struct Flat<V>(PhantomData<V>);

/// Member values a [`Flat`] object can hold.
trait FlatValue<'b>: Sized {
    fn read<A: MapAccess<'b>>(map: &mut A) -> Result<Self, A::Error>;
}

impl<'b> FlatValue<'b> for Json {
    fn read<A: MapAccess<'b>>(map: &mut A) -> Result<Self, A::Error> {
        map.next_value()
    }
}

impl<'b> FlatValue<'b> for Member<'b> {
    fn read<A: MapAccess<'b>>(map: &mut A) -> Result<Self, A::Error> {
        Ok(match map.next_value_seed(Flat::<Json>(PhantomData))? {
            Read::Object(members) => Member::Object(members),
            Read::Json(json) => Member::Json(json),
        })
    }
}

impl<'b, V: FlatValue<'b>> DeserializeSeed<'b> for Flat<V> {
    type Value = Read<'b, V>;

    fn deserialize<D: Deserializer<'b>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'b, V: FlatValue<'b>> Visitor<'b> for Flat<V> {
    type Value = Read<'b, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'b>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(Cow<'b, str>, V)> = Vec::new();
        while let Some(Name(name)) = map.next_key()? {
            if members.is_empty() && name == NUMBER_TOKEN {
                let text: String = map.next_value()?;
                let number = text.parse().map_err(de::Error::custom)?;
                return Ok(Read::Json(Json::Number(number)));
            }
            let value = V::read(&mut map)?;
            members.push((name, value));
        }
        dedupe(&mut members);
        Ok(Read::Object(members))
    }

    fn visit_seq<A: SeqAccess<'b>>(self, seq: A) -> Result<Self::Value, A::Error> {
        <Json as de::Deserialize>::deserialize(SeqAccessDeserializer::new(seq)).map(Read::Json)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Read::Json(Json::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Read::Json(Json::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Read::Json(Json::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Read::Json(Json::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Read::Json(Json::String(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Read::Json(Json::String(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Read::Json(Json::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Read::Json(Json::Null))
    }
}

/// Keeps the last value of a name given twice, at the first one's place, as serde_json's map
/// does.
fn dedupe<V>(members: &mut Vec<(Cow<'_, str>, V)>) {
    let has_duplicates = if members.len() <= SCAN_LIMIT {
        (1..members.len()).any(|i| members[..i].iter().any(|(k, _)| *k == members[i].0))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(members.len());
        !members.iter().all(|(k, _)| seen.insert(k.as_ref()))
    };
    if !has_duplicates {
        return;
    }
    let mut kept: Vec<(Cow<'_, str>, V)> = Vec::with_capacity(members.len());
    for (name, value) in members.drain(..) {
        match kept.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => kept.push((name, value)),
        }
    }
    *members = kept;
}

/// A member name, borrowed from the record when it has no escapes.
struct Name<'b>(Cow<'b, str>);

impl<'b> de::Deserialize<'b> for Name<'b> {
    fn deserialize<D: Deserializer<'b>>(deserializer: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'b> Visitor<'b> for Names {
            type Value = Name<'b>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'b str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reads `text` flat, and as serde_json would.
    fn both(text: &str) -> (Json, Json) {
        let mut reader = serde_json::Deserializer::from_str(text);
        let flat = Payload::read(&mut reader).expect("valid JSON");
        reader.end().expect("nothing after the payload");
        let json = flat.node().json().into_owned();
        (json, serde_json::from_str(text).expect("valid JSON"))
    }

    #[test]
    fn flat_reading_gives_what_serde_json_gives() {
        for text in [
            r#"{"before":null,"after":{"id":1,"name":"a","tags":[1,2],"doc":{"x":{"y":null}}},"op":"c"}"#,
            // Member order is kept, not sorted.
            r#"{"z":1,"a":{"z":2,"a":3}}"#,
            // Numbers exactly as written (arbitrary_precision), at every level.
            r#"{"a":12345678901234567890123,"b":{"c":1.50,"d":-0.0,"e":1e400}}"#,
            r#"{"k\u00e9y":{"na\"me":"v\u00e9"},"":{"":""}}"#,
            // A name given twice keeps the last value at the first place.
            r#"{"a":1,"b":{"x":1,"y":2,"x":3},"a":{"n":4}}"#,
            r#"{}"#,
            r#"{"before":{}}"#,
        ] {
            let (flat, json) = both(text);
            assert_eq!(flat, json, "{text}");
            let order = |j: &Json| j.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>());
            assert_eq!(order(&flat), order(&json), "{text}");
        }
        for text in [
            "5",
            "-7.25",
            "123456789012345678901234567890",
            "null",
            "\"s\"",
            "[1,{\"a\":2}]",
            "true",
        ] {
            let (flat, json) = both(text);
            assert_eq!(flat, json, "{text}");
            assert_eq!(flat.to_string(), json.to_string(), "{text}");
        }
    }

    #[test]
    fn numbers_are_never_read_as_objects() {
        let mut reader = serde_json::Deserializer::from_str(r#"{"before":5,"after":{"n":6}}"#);
        let payload = Payload::read(&mut reader).unwrap();
        let envelope = payload.node().as_object().unwrap();
        let before = envelope.get("before").unwrap();
        assert!(before.as_object().is_none());
        assert_eq!(before.type_name(), "a number");
        let after = envelope.get("after").unwrap().as_object().unwrap();
        assert_eq!(after.get("n").unwrap().as_i64(), Some(6));
        assert_eq!(envelope.len(), 2);
    }

    #[test]
    fn wide_objects_with_a_duplicate_name_keep_one_member() {
        let mut members: Vec<String> = (0..40).map(|i| format!("\"c{i}\":{i}")).collect();
        members.push("\"c7\":\"last\"".into());
        let text = format!("{{\"after\":{{{}}}}}", members.join(","));
        let (flat, json) = both(&text);
        assert_eq!(flat, json);
        assert_eq!(flat["after"].as_object().unwrap().len(), 40);
        assert_eq!(flat["after"]["c7"], json!("last"));
    }
}
