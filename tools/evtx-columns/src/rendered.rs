//! The JSON route: a record rendered by the `evtx` crate (what pyevtx-rs yields) and decoded like
//! the Python path; in `verify` mode, also the yardstick every planned record is compared with.

use evtx::{EvtxRecord, Timestamp};

use crate::decode::{decode, Sc};
use crate::filter::{channel_allows, event_id, json_channel_allows, json_event_id, pre_drop};
use crate::values::{time_text, Cell, Row};
use crate::{Batch, Fast, Reader};

/// The outcome of the rendered path for one record.
#[derive(Debug, PartialEq)]
pub(crate) enum Rendered {
    Dropped,
    Row(Vec<Cell>, String),
    /// An odd shape: the Python decoder takes the JSON.
    Fallback,
}

impl Reader {
    /// The reference path for one rendered record: pyevtx-rs' JSON, decoded like the Python path.
    pub(crate) fn rendered(&self, data: &str, rid: u64) -> Rendered {
        if pre_drop(data, &self.keep) {
            return Rendered::Dropped;
        }
        let Ok(d) = decode(data, &self.field_index) else {
            // the Python path decides this record; it filters by the id its string scan finds first
            return match json_event_id(data) {
                Some(id) if !self.keep.contains(&id) => Rendered::Dropped,
                Some(id) if self.checked.get(&id).is_some_and(|ok| !json_channel_allows(data, &self.channel_map, ok)) => {
                    Rendered::Dropped
                }
                _ => Rendered::Fallback,
            };
        };
        if let Some(id) = event_id(&d.event_id) {
            let channel = match &d.channel {
                Sc::Str(s) => Some(s.as_ref()),
                _ => None,
            };
            if !self.keep.contains(&id)
                || self.checked.get(&id).is_some_and(|ok| !channel_allows(&self.channel_map, channel, ok))
            {
                return Rendered::Dropped;
            }
        }
        let system = [d.event_id, d.channel, d.computer, d.time_created, d.record_id.unwrap_or(Sc::Int(rid as i128))];
        let mut vals = d.data;
        for (slot, user) in vals.iter_mut().zip(d.user) {
            if user.is_some() {
                *slot = user;
            }
        }
        for (&i, v) in self.system_index.iter().zip(system) {
            vals[i] = Some(v);
        }
        let mut row = Row { cells: Vec::with_capacity(vals.len()), text: String::new(), time: None };
        for v in &vals {
            let c = match v {
                None => Cell::Null,
                Some(v) => row.sc(v),
            };
            row.cells.push(c);
        }
        Rendered::Row(row.cells, row.text)
    }

    /// `verify` mode: the rendered path's outcome for a planned record, compared.
    pub(crate) fn check(&mut self, record: &EvtxRecord, fast: &Fast, b: &mut Batch) {
        let rid = record.event_record_id;
        let rendered = match record.clone().into_json() {
            Ok(r) => self.rendered(&r.data, r.event_record_id),
            Err(e) => {
                b.mismatches.push((rid, format!("renders with an error: {e}")));
                return;
            }
        };
        let planned = match fast {
            Fast::Dropped => Rendered::Dropped,
            _ => {
                let row = &self.row;
                let texts = |r: &Row| -> Vec<Option<String>> {
                    r.cells.iter().map(|&c| r.get(c).map(str::to_owned)).collect()
                };
                let mut row = Row { cells: row.cells.clone(), text: row.text.clone(), time: None };
                if let Some(ns) = self.row.time {   // compare the time as the text it stands for
                    let at = self.system_index[3];
                    row.cells[at] = Cell::Null;
                    time_text(Timestamp::from_nanosecond(i128::from(ns)).expect("in range"), &mut row.text);
                    row.cells[at] = Cell::Text((row.text.len() - 27) as u32, row.text.len() as u32);
                }
                let row = &row;
                if let Rendered::Row(cells, text) = &rendered {
                    let other = Row { cells: cells.clone(), text: text.clone(), time: None };
                    let same_kind = row.cells.iter().zip(&other.cells).all(|(a, b)| match (a, b) {
                        (Cell::Text(..), Cell::Text(..)) => true,
                        _ => a == b,
                    });
                    if same_kind && texts(row) == texts(&other) && row.cells.len() == other.cells.len() {
                        return;
                    }
                }
                Rendered::Row(row.cells.clone(), row.text.clone())
            }
        };
        if planned != rendered {
            b.mismatches.push((rid, format!("planned {planned:?} != rendered {rendered:?}")));
        }
    }
}
