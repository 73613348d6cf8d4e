//! latgraph_evtx: EVTX records -> per-field column buffers for latgraph's EVTX reader.
//!
//! Mirrors `ingest/formats/evtx_file.py` (the pure-Python path): records are parsed one chunk at a
//! time, single-threaded; records whose event id is not kept (and, for ids other providers reuse,
//! whose channel is not allowed) are counted and dropped; kept records are flattened exactly like
//! `flatten()` / `decode_records()` (EventData named fields, UserData one wrapper level deep, System
//! fields win) into one dictionary-encoded column per field (distinct texts in Arrow utf8 layout,
//! an i32 code per row) plus a per-value kind byte (0 null, 1 string, 2 integer in the column's i64 buffer, 3 integer
//! beyond i64 written as decimal text). Records with a
//! value of another JSON type (bool, float, array, object) or an odd shape are returned as JSON for
//! the Python path to decode, so results stay identical.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::fs::File;
use std::sync::Arc;

use evtx::{EvtxParser, ParserSettings};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
mod decode;
use decode::{decode, Sc};

#[cfg(not(target_endian = "little"))]
compile_error!("the column buffers are handed to Arrow as little-endian bytes");

const SYSTEM_FIELDS: [&str; 5] = ["EventID", "Channel", "Computer", "TimeCreated", "EventRecordID"];
const KIND_NULL: u8 = 0;
const KIND_STR: u8 = 1;
const KIND_INT: u8 = 2;
const KIND_BIG_INT: u8 = 3;

/// One column being built, dictionary-encoded: the distinct texts (Arrow utf8 offsets + data), a
/// code per row (-1: no text), the kind of every value and the integers.
struct Column {
    offsets: Vec<i32>,
    data: Vec<u8>,
    index: HashMap<Box<str>, i32, BuildHasherDefault<WordHasher>>,
    codes: Vec<i32>,
    kinds: Vec<u8>,
    /// Integer values (rows of kind 2; 0 elsewhere); empty while the column has none.
    ints: Vec<i64>,
}

impl Column {
    fn new() -> Self {
        Column { offsets: vec![0], data: Vec::new(), index: HashMap::default(), codes: Vec::new(),
                 kinds: Vec::new(), ints: Vec::new() }
    }

    #[inline]
    fn push_null(&mut self) {
        self.codes.push(-1);
        self.kinds.push(KIND_NULL);
    }

    #[inline]
    fn push_str(&mut self, text: &str, kind: u8) {
        let code = match self.index.get(text) {
            Some(&code) => code,
            None => {
                let code = self.index.len() as i32;
                self.data.extend_from_slice(text.as_bytes());
                self.offsets.push(self.data.len() as i32);
                self.index.insert(text.into(), code);
                code
            }
        };
        self.codes.push(code);
        self.kinds.push(kind);
    }

    fn push_int(&mut self, value: i128) {
        match i64::try_from(value) {
            Ok(v) => {
                self.ints.resize(self.kinds.len(), 0);
                self.ints.push(v);
                self.codes.push(-1);
                self.kinds.push(KIND_INT);
            }
            Err(_) => self.push_str(&value.to_string(), KIND_BIG_INT),
        }
    }
}

/// A fast word-at-a-time hasher for the column dictionaries (not DoS-resistant; the table is
/// per batch and per column, so a crafted log can at worst slow its own batch down).
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().expect("8 bytes"))).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }
}

/// The bytes of a slice of plain integers (little-endian machine).
fn as_bytes<T: Copy>(values: &[T]) -> &[u8] {
    // SAFETY: i32/i64 have no padding; the byte view covers exactly the slice's memory.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) }
}

/// Leading ASCII digits of `s` as an event id (None: no digits or too large), like the Python
/// path's regular expression.
fn leading_id(s: &str) -> Option<u64> {
    let end = s.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 {
        return None;
    }
    s[..end].parse::<u64>().ok()
}

/// The event id the Python path's string filter finds (None: none found; the record is kept and
/// normalisation counts it).
fn event_id(v: &Sc) -> Option<u64> {
    match v {
        Sc::Int(i) => u64::try_from(*i).ok(),
        Sc::Str(s) => leading_id(s),
        Sc::Null => None,
    }
}

/// A record as the parser's iterator hands it over: dropped by the id pre-check, or kept (JSON).
enum Item {
    Dropped,
    Kept(String, u64),
}

type Records = Box<dyn Iterator<Item = evtx::err::Result<Item>>>;

/// True when the rendered record's `"EventID":<digits>` is an id not kept (no JSON parse needed).
fn pre_drop(data: &str, keep: &HashSet<u64>) -> bool {
    let Some(at) = data.find("\"EventID\":") else { return false };
    let rest = data[at + 10..].trim_start();
    let end = rest.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 || !rest[end..].starts_with([',', '}', ' ', '\n', '\r', '\t']) {
        return false;
    }
    rest[..end].parse::<u64>().is_ok_and(|id| !keep.contains(&id))
}

#[pyclass(unsendable)]
struct Reader {
    /// Borrows `*parser`; declared first so it is dropped first (see `Drop`).
    records: Option<Records>,
    parser: *mut EvtxParser<File>,
    keep: Arc<HashSet<u64>>,
    /// event id -> lower-case raw channel names that are allowed for it (ids other providers reuse).
    checked: HashMap<u64, HashSet<String>>,
    /// lower-case raw channel name -> canonical name.
    channel_map: HashMap<String, String>,
    field_index: decode::Fields,
    /// Columns of EventID, Channel, Computer, TimeCreated, EventRecordID.
    system_index: [usize; 5],
    n_fields: usize,
    batch_size: usize,
    max_malformed: usize,
    read: u64,
    malformed_total: usize,
    done: bool,
}

#[pymethods]
impl Reader {
    /// Open `path`; `fields` are the column names (System fields must be among them).
    #[new]
    #[pyo3(signature = (path, keep, checked, channel_map, fields, batch_size=50_000, max_malformed=10_000))]
    fn new(
        path: &str,
        keep: Vec<u64>,
        checked: HashMap<u64, Vec<String>>,
        channel_map: HashMap<String, String>,
        fields: Vec<String>,
        batch_size: usize,
        max_malformed: usize,
    ) -> PyResult<Self> {
        for f in SYSTEM_FIELDS {
            if !fields.iter().any(|x| x == f) {
                return Err(PyValueError::new_err(format!("fields must include {f}")));
            }
        }
        // single-threaded (no `multithreading` feature): the same chunk pipeline and record
        // iteration as pyevtx-rs' `records_json()`, so the same records fail the same way
        let settings = ParserSettings::default().indent(false);
        let parser = EvtxParser::from_path(path)
            .map_err(|e| PyOSError::new_err(format!("{e}")))?
            .with_configuration(settings);
        let parser: *mut EvtxParser<File> = Box::into_raw(Box::new(parser));
        let keep: Arc<HashSet<u64>> = Arc::new(keep.into_iter().collect());
        let pre = Arc::clone(&keep);
        // SAFETY: `parser` is a leaked Box freed only in `Drop`, after `records` is dropped, and
        // it is never touched while `records` exists; the pyclass is `unsendable`.
        let iter = unsafe { &mut *parser }.serialized_records(move |record| {
            record.and_then(|r| r.into_json()).map(|rec| {
                if pre_drop(&rec.data, &pre) { Item::Dropped } else { Item::Kept(rec.data, rec.event_record_id) }
            })
        });
        let n_fields = fields.len();
        Ok(Reader {
            records: Some(Box::new(iter)),
            parser,
            keep,
            checked: checked.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect(),
            channel_map,
            system_index: SYSTEM_FIELDS.map(|f| fields.iter().position(|x| x == f).expect("checked above")),
            field_index: fields.into_iter().enumerate().map(|(i, f)| (f, i)).collect(),
            n_fields,
            batch_size: batch_size.max(1),
            max_malformed,
            read: 0,
            malformed_total: 0,
            done: false,
        })
    }

    /// The next batch (until `batch_size` records are kept or the file ends), or None at the end.
    ///
    /// A dict: rows, read, dropped, malformed [(records read before it, message)], too_many (bool),
    /// columns [(dictionary offsets, dictionary data, codes, kinds, ints) bytes per field], fallback [(row, json, record id)].
    fn next_batch<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        if self.done {
            return Ok(None);
        }
        let mut cols: Vec<Column> = (0..self.n_fields).map(|_| Column::new()).collect();
        let mut rows = 0usize;
        let read0 = self.read;
        let mut dropped = 0u64;
        let mut malformed: Vec<(u64, String)> = Vec::new();
        let mut fallback: Vec<(usize, String, u64)> = Vec::new();
        let mut too_many = false;
        let mut records = self.records.take().expect("records iterator");
        while rows < self.batch_size {
            let Some(item) = records.next() else {
                self.done = true;
                break;
            };
            let (data, rid) = match item {
                Err(e) => {
                    self.bad(&mut malformed, &mut too_many, format!("{e}"));
                    if too_many {
                        self.done = true;
                        break;
                    }
                    continue;
                }
                Ok(Item::Dropped) => {
                    self.read += 1;
                    dropped += 1;
                    continue;
                }
                Ok(Item::Kept(data, rid)) => (data, rid),
            };
            self.read += 1;
            match decode(&data, &self.field_index) {
                Err(_) => {
                    // an odd shape or value: the Python decoder takes this record
                    for c in cols.iter_mut() {
                        c.push_null();
                    }
                    fallback.push((rows, data.clone(), rid));
                }
                Ok(d) => {
                    if let Some(id) = event_id(&d.event_id) {
                        if !self.keep.contains(&id)
                            || self.checked.get(&id).is_some_and(|ok| !self.channel_allows(&d.channel, ok))
                        {
                            dropped += 1;
                            continue;
                        }
                    }
                    let system = [
                        d.event_id,
                        d.channel,
                        d.computer,
                        d.time_created,
                        d.record_id.unwrap_or(Sc::Int(rid as i128)),
                    ];
                    let mut vals = d.data;
                    for (slot, user) in vals.iter_mut().zip(d.user) {
                        if user.is_some() {
                            *slot = user;
                        }
                    }
                    for (&i, v) in self.system_index.iter().zip(system) {
                        vals[i] = Some(v);
                    }
                    for (c, v) in cols.iter_mut().zip(vals.iter()) {
                        match v {
                            None | Some(Sc::Null) => c.push_null(),
                            Some(Sc::Str(s)) => c.push_str(s, KIND_STR),
                            Some(Sc::Int(i)) => c.push_int(*i),
                        }
                    }
                }
            }
            rows += 1;
        }
        self.records = Some(records);
        let out = PyDict::new(py);
        out.set_item("rows", rows)?;
        out.set_item("read", self.read - read0)?;
        out.set_item("dropped", dropped)?;
        out.set_item("malformed", malformed)?;
        out.set_item("too_many", too_many)?;
        out.set_item("fallback", fallback)?;
        let columns = PyList::empty(py);
        for mut c in cols {
            if !c.ints.is_empty() {
                c.ints.resize(rows, 0);
            }
            columns.append((
                PyBytes::new(py, as_bytes(&c.offsets)),
                PyBytes::new(py, &c.data),
                PyBytes::new(py, as_bytes(&c.codes)),
                PyBytes::new(py, &c.kinds),
                PyBytes::new(py, as_bytes(&c.ints)),
            ))?;
        }
        out.set_item("columns", columns)?;
        Ok(Some(out))
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.records = None;
        // SAFETY: from Box::into_raw in `new`; the iterator borrowing it is gone.
        unsafe { drop(Box::from_raw(self.parser)) };
    }
}

impl Reader {
    fn bad(&mut self, malformed: &mut Vec<(u64, String)>, too_many: &mut bool, msg: String) {
        // the Python path counts an unreadable record as read, after the ones before it
        malformed.push((self.read, msg));
        self.read += 1;
        self.malformed_total += 1;
        if self.malformed_total > self.max_malformed {
            *too_many = true;
        }
    }

    /// False only when the channel surely is not one the id is kept from (normalisation decides
    /// the doubtful cases, counting them the same way).
    fn channel_allows(&self, channel: &Sc, allowed: &HashSet<String>) -> bool {
        let Sc::Str(raw) = channel else { return true };
        if !raw.is_ascii() || raw.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            return true;
        }
        let text = raw.trim();
        if text.is_empty() {
            return false;
        }
        let lower = text.to_ascii_lowercase();
        match self.channel_map.get(&lower) {
            Some(canonical) => allowed.contains(canonical),
            None => allowed.contains(text),
        }
    }
}

#[pymodule]
fn latgraph_evtx(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Reader>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
