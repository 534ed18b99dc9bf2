//! A struct read only from a JSON object. serde's derive also reads a struct from an array of
//! its fields; the typed fast paths of the registry and transcript parsers must accept nothing
//! their `serde_json::Value` paths would read differently, and those read arrays as no entry.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// `T`, read from a JSON object only.
pub(crate) struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(Fields(PhantomData)).map(Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Pair {
        a: u64,
        b: String,
    }

    #[test]
    fn reads_objects_and_refuses_arrays() {
        let object: Object<Pair> = serde_json::from_str(r#"{"b": "x", "a": 1}"#).unwrap();
        assert_eq!(object.0, Pair { a: 1, b: "x".into() });
        assert!(serde_json::from_str::<Pair>(r#"[1, "x"]"#).is_ok(), "the derive alone reads an array");
        assert!(serde_json::from_str::<Object<Pair>>(r#"[1, "x"]"#).is_err());
    }
}
