//! Substitution values of a template instance, read straight from the chunk bytes, and their
//! text in the form pyevtx-rs' JSON renderer writes it (so planned rows equal rendered ones).

use evtx::binxml::value_variant::BinXmlValue;
use evtx::{Offset, Timestamp, Utf16LeSlice};

use crate::decode::Sc;

/// One value of a row, before it goes into its column; texts are ranges of the row's text buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cell {
    Null,
    Int(i128),
    Text(u32, u32),
}

/// A row being assembled: a cell per column plus the text they point into (both reused).
pub(crate) struct Row {
    pub(crate) cells: Vec<Cell>,
    pub(crate) text: String,
    /// TimeCreated as nanoseconds (its cell is then null): no text to build, hash or parse.
    pub(crate) time: Option<i64>,
}

impl Row {
    pub(crate) fn text(&mut self, s: &str) -> Cell {
        let a = self.text.len() as u32;
        self.text.push_str(s);
        Cell::Text(a, self.text.len() as u32)
    }
    pub(crate) fn sc(&mut self, v: &Sc) -> Cell {
        match v {
            Sc::Null => Cell::Null,
            Sc::Int(i) => Cell::Int(*i),
            Sc::Str(s) => self.text(s),
        }
    }
    pub(crate) fn get(&self, c: Cell) -> Option<&str> {
        match c {
            Cell::Text(a, b) => Some(&self.text[a as usize..b as usize]),
            _ => None,
        }
    }
}

/// A substitution value as latgraph's columns take it (`None` from [`classify`]: another shape,
/// the record is rendered instead).
pub(crate) enum Val<'a> {
    /// What the renderer treats as empty: `""` in a Data element, `null` in a System leaf.
    Empty,
    Int(i128),
    Utf16(&'a [u8]),
    Ansi(&'a str),
    Time(Timestamp),
    Hex(u64),
    /// GUID, SID, size_t, binary: the renderer's own text.
    Display(&'a BinXmlValue<'a>),
}

pub(crate) fn classify<'a>(v: &'a BinXmlValue<'a>) -> Option<Val<'a>> {
    use BinXmlValue as B;
    Some(match v {
        B::NullType => Val::Empty,
        B::StringType(s) if s.is_empty() => Val::Empty,
        B::StringType(s) => Val::Utf16(s.as_bytes()),
        B::AnsiStringType("") => Val::Empty,
        B::AnsiStringType(s) => Val::Ansi(s),
        B::Int8Type(x) => Val::Int(i128::from(*x)),
        B::UInt8Type(x) => Val::Int(i128::from(*x)),
        B::Int16Type(x) => Val::Int(i128::from(*x)),
        B::UInt16Type(x) => Val::Int(i128::from(*x)),
        B::Int32Type(x) => Val::Int(i128::from(*x)),
        B::UInt32Type(x) => Val::Int(i128::from(*x)),
        B::Int64Type(x) => Val::Int(i128::from(*x)),
        B::UInt64Type(x) => Val::Int(i128::from(*x)),
        B::FileTimeType(t) | B::SysTimeType(t) => Val::Time(*t),
        B::HexInt32Type(x) => Val::Hex(u64::from(*x)),
        B::HexInt64Type(x) => Val::Hex(*x),
        B::BinaryType([]) => Val::Empty,
        B::BinaryType(_) | B::GuidType(_) | B::SidType(_) | B::SizeTType(_) => Val::Display(v),
        _ => return None, // bool, float, arrays, nested BinXML, handles
    })
}

/// The cell of `v` (`data`: an EventData value, whose empty form is `""`), its text written the
/// way pyevtx-rs' JSON renderer writes it (lone UTF-16 surrogates are skipped there too).
pub(crate) fn cell(row: &mut Row, v: &Val, data: bool) -> Cell {
    use std::fmt::Write;
    let a = row.text.len() as u32;
    match v {
        Val::Empty if data => {}
        Val::Empty => return Cell::Null,
        Val::Int(i) => return Cell::Int(*i),
        Val::Utf16(b) => utf16_into(b, &mut row.text),
        Val::Ansi(s) => row.text.push_str(s),
        Val::Time(t) => time_text(*t, &mut row.text),
        Val::Hex(x) => {
            let mut buf = [0u8; 18];
            let (mut i, mut x) = (buf.len(), *x);
            loop {
                i -= 1;
                buf[i] = b"0123456789abcdef"[(x & 0xf) as usize];
                x >>= 4;
                if x == 0 {
                    break;
                }
            }
            buf[i - 2..i].copy_from_slice(b"0x");
            row.text.push_str(std::str::from_utf8(&buf[i - 2..]).expect("ascii"));
        }
        Val::Display(v) => {
            let _ = write!(row.text, "{v}");
        }
    }
    Cell::Text(a, row.text.len() as u32)
}

/// UTF-16LE text appended to `out` up to the first NUL (as the parser reads a string value),
/// lone surrogates skipped (as pyevtx-rs' JSON writer does).
pub(crate) fn utf16_into(b: &[u8], out: &mut String) {
    // the ASCII prefix (the usual case: all of it), four code units at a time
    const HIGH: u64 = 0xFF80_FF80_FF80_FF80; // any unit >= 0x80
    const ONES: u64 = 0x0001_0001_0001_0001;
    const TOPS: u64 = 0x8000_8000_8000_8000;
    // SAFETY: only ASCII bytes (1..=0x7f) are pushed through the byte view.
    let bytes = unsafe { out.as_mut_vec() };
    bytes.reserve(b.len() / 2);
    let mut i = 0;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if w & HIGH != 0 || (w.wrapping_sub(ONES) & !w & TOPS) != 0 {
            break; // a non-ASCII or NUL unit in these four
        }
        bytes.extend_from_slice(&[w as u8, (w >> 16) as u8, (w >> 32) as u8, (w >> 48) as u8]);
        i += 8;
    }
    while i + 2 <= b.len() && b[i + 1] == 0 && b[i].wrapping_sub(1) < 0x7f {
        bytes.push(b[i]);
        i += 2;
    }
    if i + 2 > b.len() || b[i..i + 2] == [0, 0] {
        return;
    }
    let units = b[i..].chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]])).take_while(|&u| u != 0);
    out.extend(char::decode_utf16(units).filter_map(Result::ok));
}

/// A timestamp as pyevtx-rs writes it (UTC, microseconds, `Z`).
pub(crate) fn time_text(t: Timestamp, out: &mut String) {
    let dt = Offset::UTC.to_datetime(t);
    let mut buf = *b"0000-00-00T00:00:00.000000Z";
    pack_digits(&mut buf[0..4], dt.year() as u32);
    pack_digits(&mut buf[5..7], dt.month() as u32);
    pack_digits(&mut buf[8..10], dt.day() as u32);
    pack_digits(&mut buf[11..13], dt.hour() as u32);
    pack_digits(&mut buf[14..16], dt.minute() as u32);
    pack_digits(&mut buf[17..19], dt.second() as u32);
    pack_digits(&mut buf[20..26], (dt.subsec_nanosecond() / 1_000) as u32);
    out.push_str(std::str::from_utf8(&buf).expect("ascii"));
}

/// The FILETIME substitution `s` as nanoseconds since 1970 at the microsecond precision of its
/// rendered text, when it fits pandas' datetime64[ns] (None: any other value; the text is used).
pub(crate) fn filetime_ns(chunk: &[u8], values: &[(u8, usize, usize)], s: u16) -> Option<i64> {
    let &(ty, at, size) = values.get(usize::from(s))?;
    let BinXmlValue::FileTimeType(t) = raw_value(ty, chunk.get(at..at + size)?)? else { return None };
    // floored to the microsecond, as the calendar text is (before 1970 too)
    let ns = t.as_nanosecond().div_euclid(1_000) * 1_000;
    i64::try_from(ns).ok().filter(|&n| n != i64::MIN)
}

/// Zero-padded decimal digits of `value` into `out` (the year of a timestamp may be negative
/// in jiff; EVTX times are 1601..30828, which always fit).
pub(crate) fn pack_digits(out: &mut [u8], mut value: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The cell of substitution `s` (None: missing, or not a value the planned path takes).
pub(crate) fn slot_cell(chunk: &[u8], values: &[(u8, usize, usize)], s: u16, row: &mut Row, data: bool) -> Option<Cell> {
    let &(ty, at, size) = values.get(usize::from(s))?;
    let v = raw_value(ty, &chunk[at..at + size])?;
    Some(cell(row, &classify(&v)?, data))
}

/// Read the `TemplateInstance` whose body starts at chunk offset `p` (just after its token):
/// `out` gets (value type, chunk offset, size) per substitution; returns the definition offset
/// and where the instance ends, or None for a shape the planned path does not take.
pub(crate) fn read_instance(chunk: &[u8], mut p: usize, out: &mut Vec<(u8, usize, usize)>) -> Option<(u32, usize)> {
    let u32_at = |at: usize| chunk.get(at..at.checked_add(4)?).map(|b| u32::from_le_bytes(b.try_into().expect("4")) as usize);
    let def = u32_at(p.checked_add(5)?)?;
    p += 9;
    if def == p {
        p = p.checked_add(24)?.checked_add(u32_at(p + 20)?)?; // the definition, stored inline
    }
    let n = u32_at(p)?;
    p += 4;
    let descriptors = chunk.get(p..p.checked_add(n.checked_mul(4)?)?)?;
    p += descriptors.len();
    out.clear();
    for d in descriptors.chunks_exact(4) {
        let size = usize::from(u16::from_le_bytes([d[0], d[1]]));
        // the parser reads a value by its type; one longer than its descriptor's size shifts
        // every later value (it moves forward after a short read, never back): rendered then
        if read_len(d[2], chunk.get(p..p.checked_add(size)?)?)? > size {
            return None;
        }
        out.push((d[2], p, size));
        p += size;
    }
    Some((def as u32, p))
}

/// How many bytes the parser reads for a value of type `ty` stored in `b` (None: a type the
/// planned path does not take anywhere in a record, the record is rendered).
fn read_len(ty: u8, b: &[u8]) -> Option<usize> {
    Some(match ty {
        // null (skipped by size), sized strings and binaries, nested BinXML: the size. Arrays are
        // not taken: one in a Data element expands into several elements, shifting the others
        0x00 | 0x01 | 0x02 | 0x0e | 0x21 => b.len(),
        0x03 | 0x04 => 1,
        0x05 | 0x06 => 2,
        0x07 | 0x08 | 0x0b | 0x0d | 0x14 => 4,
        0x09 | 0x0a | 0x0c | 0x11 | 0x15 => 8,
        0x0f | 0x12 => 16,
        0x10 if b.len() == 4 || b.len() == 8 => b.len(),
        0x13 => 8 + 4 * usize::from(*b.get(1)?), // SID: revision, sub-authority count, ...
        _ => return None,
    })
}

/// The offset of the template instance body in a BinXML stream that is exactly one instance
/// (fragment header, instance, then the end or EOF), given where the instance ends.
pub(crate) fn instance_start(stream: &[u8]) -> Option<usize> {
    match stream {
        [0x0f, _, _, _, 0x0c, _, ..] => Some(5),
        [0x0c, ..] => Some(1),
        _ => None,
    }
}

/// True when nothing but EOF follows the instance ending at `end` in `stream` (starting at `base`).
pub(crate) fn ends_stream(stream: &[u8], base: usize, end: usize) -> bool {
    matches!(end.checked_sub(base).and_then(|e| stream.get(e..)), Some([] | [0x00, ..]))
}

/// A substitution value of the types the planned path reads (None: any other, or a size that
/// does not fit the type), built as the parser builds it.
pub(crate) fn raw_value(ty: u8, b: &[u8]) -> Option<BinXmlValue<'_>> {
    use BinXmlValue as B;
    let int = |n: usize| (b.len() == n).then_some(b);
    Some(match ty {
        0x00 => B::NullType,
        0x01 => {
            if !b.len().is_multiple_of(2) {
                return None;
            }
            // the text ends at the first NUL (`utf16_into` stops there); empty when it starts with one
            let chars = if b.starts_with(&[0, 0]) { 0 } else { b.len() / 2 };
            B::StringType(Utf16LeSlice::new(b, chars))
        }
        0x03 => B::Int8Type(int(1)?[0] as i8),
        0x04 => B::UInt8Type(int(1)?[0]),
        0x05 => B::Int16Type(i16::from_le_bytes(int(2)?.try_into().ok()?)),
        0x06 => B::UInt16Type(u16::from_le_bytes(int(2)?.try_into().ok()?)),
        0x07 => B::Int32Type(i32::from_le_bytes(int(4)?.try_into().ok()?)),
        0x08 => B::UInt32Type(u32::from_le_bytes(int(4)?.try_into().ok()?)),
        0x09 => B::Int64Type(i64::from_le_bytes(int(8)?.try_into().ok()?)),
        0x0a => B::UInt64Type(u64::from_le_bytes(int(8)?.try_into().ok()?)),
        0x0f => B::GuidType(int(16)?.try_into().ok()?),
        0x11 => {
            let ft = u64::from_le_bytes(int(8)?.try_into().ok()?);
            let secs = (ft / 10_000_000) as i64 - 11_644_473_600;
            B::FileTimeType(Timestamp::new(secs, ((ft % 10_000_000) * 100) as i32).ok()?)
        }
        0x14 => B::HexInt32Type(u32::from_le_bytes(int(4)?.try_into().ok()?)),
        0x15 => B::HexInt64Type(u64::from_le_bytes(int(8)?.try_into().ok()?)),
        0x21 => B::BinXmlType(b),
        _ => return None,
    })
}

