//! A JSON value that borrows its strings from the text it was read from.
//!
//! [`canonical`](crate::canonical) writes this tree. `serde_json::Value` would do,
//! but reading a line into it copies every string and builds a `BTreeMap` for
//! every object, and `logbook verify` reads a line of about a kilobyte for every
//! event of a log: with [`Json`] a string without escapes is a slice of the line,
//! and an object is a `Vec` of its members in the order they were written.
//! Keeping every member also lets the canonical form refuse a name written
//! twice, where `serde_json::Value` would keep the last one silently.
//! (`serde_json_borrow` has such a tree, but its objects can only be read, and
//! their key type changes with a Cargo feature.)

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// A JSON value whose strings borrow from its text where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` reads it.
    Number(Number),
    /// A string.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object, its members in the order they were written.
    Object(JsonObject<'a>),
}

/// The members of a JSON object, in order; a name may appear more than once
/// until the object is canonicalized, which refuses that.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonObject<'a>(pub Vec<(Cow<'a, str>, Json<'a>)>);

impl<'a> Json<'a> {
    /// Reads a JSON text.
    pub fn parse(text: &'a str) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    /// The number, if this is a whole number from 0 to `u64::MAX`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(number) => number.as_u64(),
            _ => None,
        }
    }

    /// The member `name`, if this is an object that has one.
    pub fn get(&self, name: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(object) => object.get(name),
            _ => None,
        }
    }
}

impl<'a> JsonObject<'a> {
    /// The first member called `name`.
    pub fn get(&self, name: &str) -> Option<&Json<'a>> {
        self.0.iter().find(|(member, _)| member == name).map(|(_, value)| value)
    }

    /// The first member called `name`, to change.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Json<'a>> {
        self.0.iter_mut().find(|(member, _)| member == name).map(|(_, value)| value)
    }

    /// Whether a member is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets the first member called `name`, or adds it at the end.
    pub fn set(&mut self, name: impl Into<Cow<'a, str>>, value: Json<'a>) {
        let name = name.into();
        match self.get_mut(&name) {
            Some(slot) => *slot = value,
            None => self.0.push((name, value)),
        }
    }

    /// Takes the first member called `name` out.
    pub fn remove(&mut self, name: &str) -> Option<Json<'a>> {
        let position = self.0.iter().position(|(member, _)| member == name)?;
        Some(self.0.remove(position).1)
    }
}

impl<'a> From<&'a Value> for Json<'a> {
    fn from(value: &'a Value) -> Json<'a> {
        match value {
            Value::Null => Json::Null,
            Value::Bool(flag) => Json::Bool(*flag),
            Value::Number(number) => Json::Number(number.clone()),
            Value::String(text) => Json::String(Cow::Borrowed(text)),
            Value::Array(items) => Json::Array(items.iter().map(Json::from).collect()),
            Value::Object(members) => Json::Object(JsonObject(
                members.iter().map(|(name, value)| (Cow::Borrowed(name.as_str()), Json::from(value))).collect(),
            )),
        }
    }
}

impl From<Json<'_>> for Value {
    fn from(json: Json<'_>) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(flag) => Value::Bool(flag),
            Json::Number(number) => Value::Number(number),
            Json::String(text) => Value::String(text.into_owned()),
            Json::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            Json::Object(members) => Value::Object(
                members.0.into_iter().map(|(name, value)| (name.into_owned(), Value::from(value))).collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json<'de>, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Builds a [`Json`] from what `serde_json` reads.
struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(flag))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(number.into()))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(number.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, number: f64) -> Result<Json<'de>, E> {
        Number::from_f64(number).map(Json::Number).ok_or_else(|| E::custom("a number is not finite"))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(sequence.size_hint().unwrap_or(0));
        while let Some(item) = sequence.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(MemberName(name)) = map.next_key()? {
            members.push((name, map.next_value()?));
        }
        Ok(Json::Object(JsonObject(members)))
    }
}

/// A member's name, borrowed from the text where it has no escapes: read as a
/// string by [`JsonVisitor`], which borrows strings the same way.
struct MemberName<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for MemberName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MemberName<'de>, D::Error> {
        match deserializer.deserialize_str(JsonVisitor)? {
            Json::String(name) => Ok(MemberName(name)),
            _ => Err(serde::de::Error::custom("a member name is not a string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text = r#"{"plain":"abc","escaped":"a\"b","list":[1,-2,2.5,true,null],"plain":{}}"#;
        let Json::Object(object) = Json::parse(text).unwrap() else { panic!("an object") };
        assert!(matches!(object.get("plain"), Some(Json::String(Cow::Borrowed("abc")))));
        assert!(matches!(object.get("escaped"), Some(Json::String(Cow::Owned(text))) if text == "a\"b"));
        // Both members named "plain" are kept, in order.
        assert_eq!(object.0.iter().filter(|(name, _)| name == "plain").count(), 2);
        let value: Value = serde_json::from_str(text).unwrap();
        let round_trip =
            Value::from(Json::parse(r#"{"escaped":"a\"b","list":[1,-2,2.5,true,null],"plain":{}}"#).unwrap());
        assert_eq!(round_trip["list"], value["list"]);
        assert_eq!(Json::from(&value).get("escaped").and_then(Json::as_str), Some("a\"b"));
    }

    #[test]
    fn members_are_set_and_removed_by_name() {
        let mut object = JsonObject::default();
        object.set("a", Json::Bool(true));
        object.set("b", Json::Null);
        object.set("a", Json::Bool(false));
        assert_eq!(object.0.len(), 2);
        assert_eq!(object.get("a"), Some(&Json::Bool(false)));
        assert_eq!(object.remove("a"), Some(Json::Bool(false)));
        assert!(!object.contains("a") && object.contains("b"));
        assert_eq!(object.remove("a"), None);
    }
}
