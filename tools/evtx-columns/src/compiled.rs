//! A template's plan laid out per column, as the planned path reads a record.

use std::collections::HashMap;
use std::rc::Rc;

use crate::template::{Plan, Src};
use crate::values::{slot_cell, Cell, Row};

/// Where a column's value comes from in a planned template.
#[derive(Clone, Copy)]
pub(crate) enum ColSrc {
    Null,
    /// A substitution; `data`: an EventData value.
    Slot(u16, bool),
    /// Literal template text (`Compiled::texts`).
    Text(u16),
    /// The record header's id (the template has no EventRecordID).
    RecordId,
}

/// A template's plan laid out per column.
pub(crate) struct Compiled {
    pub(crate) event_id: ColSrc,
    pub(crate) channel: ColSrc,
    /// (column, source) of every column with a source (None: the event data is not of the
    /// planned shape).
    pub(crate) cols: Option<Vec<(usize, ColSrc)>>,
    texts: Vec<String>,
    /// The substitution holding the event data as a nested template instance.
    pub(crate) nested: Option<u16>,
}

impl Compiled {
    pub(crate) fn new(plan: &Plan, n_fields: usize, system_index: &[usize; 5]) -> Self {
        let mut texts: Vec<String> = Vec::new();
        let mut src = |s: &Src, absent: ColSrc| match s {
            Src::Slot(n) => ColSrc::Slot(*n, false),
            Src::Text(t) => {
                texts.push(t.clone());
                ColSrc::Text((texts.len() - 1) as u16)
            }
            Src::Absent => absent,
        };
        let system = [&plan.event_id, &plan.channel, &plan.computer, &plan.time_created, &plan.record_id]
            .map(|s| src(s, ColSrc::Null));
        let system = [system[0], system[1], system[2], system[3],
                      if plan.record_id == Src::Absent { ColSrc::RecordId } else { system[4] }];
        let cols = plan.data.as_ref().map(|data| {
            let mut cols = vec![ColSrc::Null; n_fields];
            for &(col, s) in data {
                cols[col] = ColSrc::Slot(s, true);
            }
            for (&col, src) in system_index.iter().zip(system) {
                cols[col] = src;
            }
            cols.into_iter().enumerate().filter(|(_, src)| !matches!(src, ColSrc::Null)).collect()
        });
        Compiled { event_id: system[0], channel: system[1], cols, texts, nested: plan.nested }
    }

    /// The cell of `src` for this record (`values`: its substitutions; None: not a value the
    /// planned path takes).
    pub(crate) fn cell(&self, src: ColSrc, chunk: &[u8], values: &[(u8, usize, usize)], row: &mut Row, record_id: u64)
        -> Option<Cell> {
        Some(match src {
            ColSrc::Null => Cell::Null,
            ColSrc::RecordId => Cell::Int(i128::from(record_id)),
            ColSrc::Text(i) => row.text(&self.texts[usize::from(i)]),
            ColSrc::Slot(s, data) => slot_cell(chunk, values, s, row, data)?,
        })
    }
}

/// Plans by template definition offset (None: not planned), per chunk.
pub(crate) type Plans<T> = HashMap<u32, Option<Rc<T>>>;
