//! latgraph_evtx: EVTX records -> per-field column buffers for latgraph's EVTX reader.
//!
//! Mirrors `ingest/formats/evtx_file.py` (the pure-Python path): records are parsed one chunk at a
//! time, single-threaded, in the order and with the errors of pyevtx-rs' `records_json()`. A record
//! of a template `template::plan` understands is read from its substitution values (no JSON); any
//! other record is rendered to JSON like the raw baseline and decoded (`decode`). Records whose
//! event id is not kept (and, for ids other providers reuse, whose channel is not allowed) are
//! counted and dropped; kept records are flattened exactly like `flatten()` / `decode_records()`
//! (EventData named fields, UserData one wrapper level deep, System fields win) into one
//! dictionary-encoded column per field (distinct texts in Arrow utf8 layout, an i32 code per row)
//! plus a per-value kind byte (0 null, 1 string, 2 integer in the column's i64 buffer, 3 integer
//! beyond i64 written as decimal text). Records with a value of another JSON type (bool, float,
//! array, object) or an odd shape are returned as JSON for the Python path to decode, so results
//! stay identical; `verify` mode checks the planned path against rendering record by record.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::rc::Rc;
use std::sync::Arc;

use evtx::{EvtxParser, EvtxRecord, IntoIterChunks, ParserSettings};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
mod columns;
mod compiled;
mod decode;
mod filter;
mod rendered;
mod template;
mod values;
use columns::{as_bytes, Column, KIND_STR};
use compiled::{ColSrc, Compiled, Plans};
use rendered::Rendered;
use filter::{channel_allows, leading_id};
use values::{ends_stream, filetime_ns, instance_start, read_instance, slot_cell, Cell, Row};

#[cfg(not(target_endian = "little"))]
compile_error!("the column buffers are handed to Arrow as little-endian bytes");

const SYSTEM_FIELDS: [&str; 5] = ["EventID", "Channel", "Computer", "TimeCreated", "EventRecordID"];

/// An error with its sources, `: `-joined, as pyevtx-rs words it.
fn err_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// What the planned path made of a record.
enum Fast {
    Dropped,
    Row,
    /// Not planned: render it to JSON.
    Render,
}

/// Per-batch outputs.
struct Batch {
    cols: Vec<Column>,
    rows: usize,
    dropped: u64,
    malformed: Vec<(u64, String)>,
    fallback: Vec<(usize, String, u64)>,
    too_many: bool,
    /// Records read from their template values (the rest were rendered).
    planned: u64,
    /// `verify` mode: (record id, what differed) where the planned and rendered paths disagree.
    mismatches: Vec<(u64, String)>,
    /// TimeCreated in nanoseconds per row, where `time_ok` is 1 (else the column has the text).
    times: Vec<i64>,
    time_ok: Vec<u8>,
}

#[pyclass(unsendable)]
struct Reader {
    chunks: IntoIterChunks<File>,
    settings: Arc<ParserSettings>,
    keep: HashSet<u64>,
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
    /// Use template plans (false: render every record, the reference path).
    planned: bool,
    /// Run both paths on every planned record and report where they differ.
    verify: bool,
    row: Row,
    /// Nested (event data) template plans of the current chunk, by definition offset.
    nested_plans: Plans<Vec<(usize, u16)>>,
    /// Substitutions of the record (and of its nested event data) being read: (type, offset, size).
    values: Vec<(u8, usize, usize)>,
    nested_values: Vec<(u8, usize, usize)>,
}

#[pymethods]
impl Reader {
    /// Open `path`; `fields` are the column names (System fields must be among them).
    #[new]
    #[pyo3(signature = (path, keep, checked, channel_map, fields, batch_size=50_000, max_malformed=10_000,
                        planned=true, verify=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        path: &str,
        keep: Vec<u64>,
        checked: HashMap<u64, Vec<String>>,
        channel_map: HashMap<String, String>,
        fields: Vec<String>,
        batch_size: usize,
        max_malformed: usize,
        planned: bool,
        verify: bool,
    ) -> PyResult<Self> {
        for f in SYSTEM_FIELDS {
            if !fields.iter().any(|x| x == f) {
                return Err(PyValueError::new_err(format!("fields must include {f}")));
            }
        }
        // single-threaded (no `multithreading` feature): chunks are read and their records
        // iterated in the order, and with the errors, of pyevtx-rs' `records_json()`
        let settings = ParserSettings::default().indent(false);
        let parser = EvtxParser::from_path(path)
            .map_err(|e| PyOSError::new_err(format!("{e}")))?
            .with_configuration(settings.clone());
        let n_fields = fields.len();
        Ok(Reader {
            chunks: parser.into_chunks(),
            settings: Arc::new(settings),
            keep: keep.into_iter().collect(),
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
            planned,
            verify,
            row: Row { cells: Vec::new(), text: String::new(), time: None },
            nested_plans: HashMap::new(),
            values: Vec::new(),
            nested_values: Vec::new(),
        })
    }

    /// The next batch (whole chunks until at least `batch_size` records are kept, or the file
    /// ends), or None at the end.
    ///
    /// A dict: rows, read, dropped, malformed [(records read before it, message)], too_many (bool),
    /// columns [(dictionary offsets, dictionary data, codes, kinds, ints) bytes per field],
    /// fallback [(row, json, record id)], planned (records read from template values),
    /// mismatches [(record id, message)] (verify mode), times (int64 ns per row, uint8 1 where set:
    /// TimeCreated read as a FILETIME, its column then null) as bytes.
    fn next_batch<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        if self.done {
            return Ok(None);
        }
        let mut b = Batch {
            cols: (0..self.n_fields).map(|_| Column::new()).collect(),
            rows: 0,
            dropped: 0,
            malformed: Vec::new(),
            fallback: Vec::new(),
            too_many: false,
            planned: 0,
            mismatches: Vec::new(),
            times: Vec::new(),
            time_ok: Vec::new(),
        };
        let read0 = self.read;
        while b.rows < self.batch_size && !self.done {
            self.next_chunk(&mut b);
        }
        let out = PyDict::new(py);
        out.set_item("rows", b.rows)?;
        out.set_item("read", self.read - read0)?;
        out.set_item("dropped", b.dropped)?;
        out.set_item("malformed", b.malformed)?;
        out.set_item("too_many", b.too_many)?;
        out.set_item("fallback", b.fallback)?;
        out.set_item("planned", b.planned)?;
        out.set_item("mismatches", b.mismatches)?;
        b.times.resize(b.rows, 0);
        b.time_ok.resize(b.rows, 0);
        out.set_item("times", (PyBytes::new(py, as_bytes(&b.times)), PyBytes::new(py, &b.time_ok)))?;
        let columns = PyList::empty(py);
        for mut c in b.cols {
            c.pad(b.rows);
            if !c.ints.is_empty() {
                c.ints.resize(b.rows, 0);
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

impl Reader {
    /// Read the next chunk's records into `b` (the end of the file: `done`).
    fn next_chunk(&mut self, b: &mut Batch) {
        let Some(res) = self.chunks.next() else {
            self.done = true;
            return;
        };
        let mut data = match res {
            Ok(data) => data,
            Err(e) => return self.bad(b, err_text(&e)),
        };
        let (first, last) = (data.header.first_event_record_id, data.header.last_event_record_id);
        let mut chunk = match data.parse(Arc::clone(&self.settings)) {
            Ok(chunk) => chunk,
            // worded as pyevtx-rs words it
            Err(e) => return self.bad(b, format!("Failed to parse chunk containing record IDs {first}..{last}: {}",
                                                 err_text(&e))),
        };
        let mut plans: Plans<Compiled> = HashMap::new();
        self.nested_plans.clear();
        for record in chunk.iter() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    self.bad(b, err_text(&e));
                    if self.done {
                        return;
                    }
                    continue;
                }
            };
            let fast = if self.planned { self.planned_record(&record, &mut plans, b) } else { Fast::Render };
            match fast {
                Fast::Dropped | Fast::Row => {
                    self.read += 1;
                    b.planned += 1;
                    if matches!(fast, Fast::Dropped) {
                        b.dropped += 1; // a planned row is counted by `push_row`
                    }
                    if self.verify {
                        self.check(&record, &fast, b);
                    }
                }
                Fast::Render => {
                    let recovered = record.recovered;
                    match record.into_json() {
                        Ok(r) => {
                            self.read += 1;
                            match self.rendered(&r.data, r.event_record_id) {
                                Rendered::Dropped => b.dropped += 1,
                                Rendered::Row(cells, text) => {
                                    self.row.cells = cells;
                                    self.row.text = text;
                                    self.row.time = None;
                                    self.push_row(b);
                                }
                                Rendered::Fallback => {
                                    // a row of nulls (columns fill lazily), patched in Python
                                    b.fallback.push((b.rows, r.data, r.event_record_id));
                                    b.rows += 1;
                                }
                            }
                        }
                        // carved records that fail to render are noise (as in pyevtx-rs)
                        Err(_) if recovered => {}
                        Err(e) => {
                            self.bad(b, err_text(&e));
                            if self.done {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }

    /// The row of a planned record (pushed into `b`), its drop, or `Render`.
    fn planned_record(&mut self, record: &EvtxRecord, plans: &mut Plans<Compiled>, b: &mut Batch) -> Fast {
        let chunk = record.chunk.data;
        let (off, size) = (record.binxml_offset as usize, record.binxml_size as usize);
        let Some(stream) = chunk.get(off..off.saturating_add(size)) else { return Fast::Render };
        // one TemplateInstance and nothing after it (else the record is a tree: rendered)
        let Some(start) = instance_start(stream) else { return Fast::Render };
        let mut values = std::mem::take(&mut self.values);
        let fast = match read_instance(chunk, off + start, &mut values) {
            Some((def, end)) if ends_stream(stream, off, end) => self.planned_values(record, def, &values, plans, b),
            _ => Fast::Render,
        };
        self.values = values;
        fast
    }

    fn planned_values(&mut self, record: &EvtxRecord, def: u32, values: &[(u8, usize, usize)],
                      plans: &mut Plans<Compiled>, b: &mut Batch) -> Fast {
        let chunk = record.chunk.data;
        let (n_fields, system_index, fields) = (self.n_fields, &self.system_index, &self.field_index);
        let Some(plan) = plans
            .entry(def)
            .or_insert_with(|| {
                template::plan(chunk, def as usize, fields, system_index)
                    .ok()
                    .map(|p| Rc::new(Compiled::new(&p, n_fields, system_index)))
            })
            .clone()
        else {
            return Fast::Render;
        };
        let row = &mut self.row;
        let rid = record.event_record_id;
        row.text.clear();
        let Some(event_id) = plan.cell(plan.event_id, chunk, values, row, rid) else { return Fast::Render };
        let id = match event_id {
            Cell::Int(i) => u64::try_from(i).ok(),
            Cell::Text(..) => leading_id(row.get(event_id).expect("text")),
            Cell::Null => None,
        };
        if let Some(id) = id {
            if !self.keep.contains(&id) {
                return Fast::Dropped;
            }
            if let Some(ok) = self.checked.get(&id) {
                let Some(channel) = plan.cell(plan.channel, chunk, values, row, rid) else { return Fast::Render };
                if !channel_allows(&self.channel_map, row.get(channel), ok) {
                    return Fast::Dropped;
                }
            }
        }
        let Some(cols) = &plan.cols else { return Fast::Render };
        row.text.clear();
        row.cells.clear();
        row.cells.resize(n_fields, Cell::Null);
        row.time = None;
        let time_col = system_index[3];
        for &(col, src) in cols {
            if let (true, ColSrc::Slot(s, _)) = (col == time_col, src) {
                if let Some(ns) = filetime_ns(chunk, values, s) {
                    row.time = Some(ns);
                    continue;
                }
            }
            let Some(c) = plan.cell(src, chunk, values, row, rid) else { return Fast::Render };
            row.cells[col] = c;
        }
        if let Some(slot) = plan.nested {
            let Some(&(ty, at, size)) = values.get(usize::from(slot)) else { return Fast::Render };
            match (ty, size) {
                (0x00, _) | (0x21, 0) => {} // no event data
                (0x21, _) => {
                    let bytes = &chunk[at..at + size];
                    let mut nested = std::mem::take(&mut self.nested_values);
                    let ok = match instance_start(bytes).and_then(|s| read_instance(chunk, at + s, &mut nested)) {
                        Some((def, end)) if ends_stream(bytes, at, end) => {
                            let data = self
                                .nested_plans
                                .entry(def)
                                .or_insert_with(|| template::nested_plan(chunk, def as usize, fields, system_index).map(Rc::new))
                                .clone();
                            data.is_some_and(|data| {
                                data.iter().all(|&(col, s)| match slot_cell(chunk, &nested, s, row, true) {
                                    Some(c) => {
                                        row.cells[col] = c;
                                        true
                                    }
                                    None => false,
                                })
                            })
                        }
                        _ => false,
                    };
                    self.nested_values = nested;
                    if !ok {
                        return Fast::Render;
                    }
                }
                _ => return Fast::Render,
            }
        }
        self.push_row(b);
        Fast::Row
    }

    /// Push the assembled `self.row` into the columns.
    fn push_row(&mut self, b: &mut Batch) {
        let row = &self.row;
        for (c, &v) in b.cols.iter_mut().zip(&row.cells) {
            match v {
                Cell::Null => {}
                Cell::Int(i) => c.push_int(b.rows, i),
                Cell::Text(..) => c.push_str(b.rows, row.get(v).expect("text"), KIND_STR),
            }
        }
        if let Some(ns) = row.time {
            b.times.resize(b.rows, 0);
            b.time_ok.resize(b.rows, 0);
            b.times.push(ns);
            b.time_ok.push(1);
        }
        b.rows += 1;
    }

    /// An unreadable chunk or record: counted as read, after the ones before it (as the Python
    /// path counts it); past `max_malformed` the rest of the file is skipped (`done`).
    fn bad(&mut self, b: &mut Batch, msg: String) {
        b.malformed.push((self.read, msg));
        self.read += 1;
        self.malformed_total += 1;
        if self.malformed_total > self.max_malformed {
            b.too_many = true;
            self.done = true;
        }
    }
}

/// CRC32 (IEEE, as zlib.crc32) of a bytes-like object, continuing from `value`: the EVTX
/// checksums (ingest/formats/evtx_check.py) with crc32fast's SIMD code.
#[pyfunction]
#[pyo3(signature = (data, value = 0))]
fn crc32(data: pyo3::buffer::PyBuffer<u8>, value: u32, py: Python<'_>) -> PyResult<u32> {
    if !data.is_c_contiguous() {
        return Err(pyo3::exceptions::PyValueError::new_err("crc32 needs a contiguous buffer"));
    }
    // SAFETY: a read-only view of a contiguous buffer the caller keeps alive for this call.
    let bytes = unsafe { std::slice::from_raw_parts(data.buf_ptr() as *const u8, data.len_bytes()) };
    Ok(py.allow_threads(|| {
        let mut hasher = crc32fast::Hasher::new_with_initial(value);
        hasher.update(bytes);
        hasher.finalize()
    }))
}

#[pymodule]
fn latgraph_evtx(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Reader>()?;
    m.add_function(wrap_pyfunction!(crc32, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
