//! A borrowing decoder for the common record shape: only the fields latgraph reads are looked
//! at, every other value is skipped by the JSON scanner without being built. Anything unusual
//! (`Err(Odd)`) goes to the Python decoder, which handles every shape.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

/// A scalar field value.
#[derive(Clone, Debug)]
pub enum Sc<'a> {
    Null,
    Str(Cow<'a, str>),
    Int(i128),
}

/// A shape or value the columns cannot carry exactly.
#[derive(Debug)]
pub struct Odd;

/// The System block and the named EventData/UserData fields of one record.
pub struct Decoded<'a> {
    /// Per field: EventData value (None: the key is absent).
    pub data: Vec<Option<Sc<'a>>>,
    /// Per field: UserData value, one wrapper level deep (wins over EventData); empty when the
    /// record has no UserData.
    pub user: Vec<Option<Sc<'a>>>,
    pub event_id: Sc<'a>,
    pub channel: Sc<'a>,
    pub computer: Sc<'a>,
    pub time_created: Sc<'a>,
    pub record_id: Option<Sc<'a>>,
}

/// Field name -> column index (FNV-1a: short keys, looked up for every key of every record).
pub type Fields = HashMap<String, usize, BuildHasherDefault<Fnv>>;

/// FNV-1a, for the short field-name keys.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Decode `data` (one rendered record) or say it is odd.
pub fn decode<'a>(data: &'a str, fields: &Fields) -> Result<Decoded<'a>, Odd> {
    let mut out = Decoded {
        data: vec![None; fields.len()],
        user: Vec::new(),
        event_id: Sc::Null,
        channel: Sc::Null,
        computer: Sc::Null,
        time_created: Sc::Null,
        record_id: None,
    };
    let mut de = serde_json::Deserializer::from_str(data);
    let mut odd = false;
    let mut seen_event = false;
    RootSeed { fields, out: &mut out, odd: &mut odd, seen_event: &mut seen_event }
        .deserialize(&mut de)
        .map_err(|_| Odd)?;
    de.end().map_err(|_| Odd)?;
    if odd || !seen_event {
        return Err(Odd);
    }
    Ok(out)
}

struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A scalar; `text_of`: an object gives its "#text" (the Python path's `_text`). Bool, float,
/// array or object (when not `text_of`) -> `Err`.
struct ScalarSeed {
    text_of: bool,
}

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Result<Sc<'de>, Odd>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed {
    type Value = Result<Sc<'de>, Odd>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Ok(Sc::Str(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Ok(Sc::Str(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Ok(Sc::Str(Cow::Owned(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Ok(Sc::Int(v as i128)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Ok(Sc::Int(v as i128)))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(Odd))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(Odd))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(Sc::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(Sc::Null))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err(Odd))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if !self.text_of {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Err(Odd));
        }
        let mut text = Ok(Sc::Null);
        while let Some(k) = map.next_key::<Key>()? {
            if k.0 == "#text" {
                text = map.next_value_seed(ScalarSeed { text_of: false })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(text)
    }
}

/// Visits a map with `on_entry(key, map)`, which must consume the value; a non-map is odd (or,
/// with `ignore_other`, skipped). `null` is an absent block.
macro_rules! map_seed {
    ($name:ident, $self_:ident, $key:ident, $map:ident, $body:block, ignore_other = $ign:expr) => {
        impl<'de, 'x> DeserializeSeed<'de> for $name<'de, 'x> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_any(self)
            }
        }
        impl<'de, 'x> Visitor<'de> for $name<'de, 'x> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut $map: A) -> Result<(), A::Error> {
                let $self_ = self;
                while let Some($key) = $map.next_key::<Key<'de>>()? {
                    $body
                }
                Ok(())
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                Ok(())
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<(), E> {
                if !$ign { *self.odd = true; }
                Ok(())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
                if !$ign { *self.odd = true; }
                Ok(())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
                if !$ign { *self.odd = true; }
                Ok(())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
                if !$ign { *self.odd = true; }
                Ok(())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
                if !$ign { *self.odd = true; }
                Ok(())
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
                if !$ign { *self.odd = true; }
                Ok(())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                if !$ign { *self.odd = true; }
                Ok(())
            }
        }
    };
}

fn set<'de>(slot: &mut Sc<'de>, value: Result<Sc<'de>, Odd>, odd: &mut bool) {
    match value {
        Ok(v) => *slot = v,
        Err(Odd) => *odd = true,
    }
}

struct RootSeed<'de, 'x> {
    fields: &'x Fields,
    out: &'x mut Decoded<'de>,
    odd: &'x mut bool,
    seen_event: &'x mut bool,
}
map_seed!(RootSeed, s, key, map, {
    if key.0 == "Event" {
        *s.seen_event = true;
        map.next_value_seed(EventSeed { fields: s.fields, out: &mut *s.out, odd: &mut *s.odd })?;
    } else {
        map.next_value::<IgnoredAny>()?;
    }
}, ignore_other = false);

struct EventSeed<'de, 'x> {
    fields: &'x Fields,
    out: &'x mut Decoded<'de>,
    odd: &'x mut bool,
}
map_seed!(EventSeed, s, key, map, {
    match key.0.as_ref() {
        "System" => map.next_value_seed(SystemSeed { out: &mut *s.out, odd: &mut *s.odd })?,
        "EventData" => map.next_value_seed(DataSeed { fields: s.fields, slots: &mut s.out.data,
                                                      odd: &mut *s.odd, text_of: false })?,
        "UserData" => map.next_value_seed(UserSeed { fields: s.fields, slots: {
                                                         s.out.user.resize(s.fields.len(), None);
                                                         &mut s.out.user
                                                     },
                                                     odd: &mut *s.odd })?,
        _ => {
            map.next_value::<IgnoredAny>()?;
        }
    }
}, ignore_other = false);

struct SystemSeed<'de, 'x> {
    out: &'x mut Decoded<'de>,
    odd: &'x mut bool,
}
map_seed!(SystemSeed, s, key, map, {
    match key.0.as_ref() {
        "EventID" => {
            let v = map.next_value_seed(ScalarSeed { text_of: true })?;
            set(&mut s.out.event_id, v, &mut *s.odd);
        }
        "Channel" => {
            let v = map.next_value_seed(ScalarSeed { text_of: false })?;
            set(&mut s.out.channel, v, &mut *s.odd);
        }
        "Computer" => {
            let v = map.next_value_seed(ScalarSeed { text_of: false })?;
            set(&mut s.out.computer, v, &mut *s.odd);
        }
        "TimeCreated" => {
            s.out.time_created = Sc::Null;
            map.next_value_seed(TimeSeed { slot: &mut s.out.time_created, odd: &mut *s.odd, attrs: false })?;
        }
        "EventRecordID" => {
            let mut slot = Sc::Null;
            let v = map.next_value_seed(ScalarSeed { text_of: false })?;
            set(&mut slot, v, &mut *s.odd);
            s.out.record_id = Some(slot);
        }
        _ => {
            map.next_value::<IgnoredAny>()?;
        }
    }
}, ignore_other = false);

/// `TimeCreated` -> `#attributes` -> `SystemTime`.
struct TimeSeed<'de, 'x> {
    slot: &'x mut Sc<'de>,
    odd: &'x mut bool,
    attrs: bool,
}
map_seed!(TimeSeed, s, key, map, {
    if !s.attrs && key.0 == "#attributes" {
        map.next_value_seed(TimeSeed { slot: &mut *s.slot, odd: &mut *s.odd, attrs: true })?;
    } else if s.attrs && key.0 == "SystemTime" {
        let v = map.next_value_seed(ScalarSeed { text_of: false })?;
        set(&mut *s.slot, v, &mut *s.odd);
    } else {
        map.next_value::<IgnoredAny>()?;
    }
}, ignore_other = false);

/// Named fields of one object into their slots.
struct DataSeed<'de, 'x> {
    fields: &'x Fields,
    slots: &'x mut Vec<Option<Sc<'de>>>,
    odd: &'x mut bool,
    text_of: bool,
}
map_seed!(DataSeed, s, key, map, {
    if let Some(&i) = s.fields.get(key.0.as_ref()) {
        match map.next_value_seed(ScalarSeed { text_of: s.text_of })? {
            Ok(v) => s.slots[i] = Some(v),
            Err(Odd) => *s.odd = true,
        }
    } else {
        map.next_value::<IgnoredAny>()?;
    }
}, ignore_other = false);

/// UserData: every wrapper object's named fields (text of `{"#text": ..}` values).
struct UserSeed<'de, 'x> {
    fields: &'x Fields,
    slots: &'x mut Vec<Option<Sc<'de>>>,
    odd: &'x mut bool,
}
map_seed!(UserSeed, s, _key, map, {
    map.next_value_seed(InnerSeed { fields: s.fields, slots: &mut *s.slots, odd: &mut *s.odd })?;
}, ignore_other = false);

/// One UserData wrapper: a non-object is ignored, as in the Python path.
struct InnerSeed<'de, 'x> {
    fields: &'x Fields,
    slots: &'x mut Vec<Option<Sc<'de>>>,
    odd: &'x mut bool,
}
map_seed!(InnerSeed, s, key, map, {
    if let Some(&i) = s.fields.get(key.0.as_ref()) {
        match map.next_value_seed(ScalarSeed { text_of: true })? {
            Ok(v) => s.slots[i] = Some(v),
            Err(Odd) => *s.odd = true,
        }
    } else {
        map.next_value::<IgnoredAny>()?;
    }
}, ignore_other = true);
