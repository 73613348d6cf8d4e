//! Template plans: which substitution of a chunk template feeds which latgraph field.
//!
//! Nearly every EVTX record is one `TemplateInstance`: a reference to a template definition stored
//! once per chunk plus the record's substitution values. Rendering that to JSON and scanning the
//! JSON again (the baseline) costs more than the parse itself. A *plan* is read once per template
//! from its definition (MS-EVEN6 BinXML: element/attribute tokens with substitution placeholders)
//! and says, for the fields latgraph reads, which substitution holds the value: the System
//! `EventID`, `Channel`, `Computer`, `TimeCreated/@SystemTime`, `EventRecordID` and the
//! `EventData/Data[@Name]` values. A record of a planned template is then read from its values.
//!
//! Only the usual shape is planned; anything else (a placeholder where an element may be, literal
//! text in a field, `UserData`, duplicate names, tokens not expected in a definition) gives no plan
//! for that part, and those records keep the rendered-JSON path, so the result never differs.

use crate::decode::Fields;

/// Where a field's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Src {
    /// The element is not in the template.
    Absent,
    /// Substitution number `n` of the record's values.
    Slot(u16),
    /// Literal text in the template (non-empty).
    Text(String),
}

/// The System targets and the EventData mapping of one template.
#[derive(Debug)]
pub struct Plan {
    pub event_id: Src,
    pub channel: Src,
    pub computer: Src,
    pub time_created: Src,
    pub record_id: Src,
    /// (column, substitution) of every EventData field latgraph reads; `None` when the event data
    /// of this template is not of the planned shape (its kept records are rendered instead).
    pub data: Option<Vec<(usize, u16)>>,
    /// The substitution in `Event` whose BinXML fragment holds the event data (a nested
    /// template instance, planned with [`nested_plan`]); `data` is then empty.
    pub nested: Option<u16>,
}

/// Not a plannable template (any reason): its records are rendered.
#[derive(Debug)]
pub struct Unplanned;

type R<T> = Result<T, Unplanned>;

/// One content item of an element or attribute value.
#[derive(Debug)]
enum Item {
    Slot(u16),
    Text(String),
    Element(usize),
    /// Character/entity references, CDATA, processing instructions.
    Other,
}

#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, Vec<Item>)>,
    children: Vec<Item>,
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Unplanned)?;
        let s = self.data.get(self.pos..end).ok_or(Unplanned)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> R<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> R<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    /// `n` UTF-16LE code units as text (an invalid one: no plan).
    fn utf16(&mut self, n: usize) -> R<String> {
        let bytes = self.take(n.checked_mul(2).ok_or(Unplanned)?)?;
        let units = bytes.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]]));
        char::decode_utf16(units).collect::<Result<String, _>>().map_err(|_| Unplanned)
    }
    /// A name reference: the chunk string-table entry at its offset, skipped when stored inline.
    fn name(&mut self, chunk: &[u8]) -> R<String> {
        let offset = self.u32()? as usize;
        let mut at = Cursor { data: chunk, pos: offset };
        at.take(6)?; // next-string offset, hash
        let len = at.u16()? as usize;
        let name = at.utf16(len)?;
        if name.chars().any(|c| c < ' ' || c == '"' || c == '\\') {
            // the renderer writes names as they are: such a name makes the record's JSON invalid
            // (a malformed record on the rendered path), so it must be rendered here too
            return Err(Unplanned);
        }
        if offset == self.pos {
            self.pos = at.pos.checked_add(2).ok_or(Unplanned)?; // the NUL after an inline name
        }
        Ok(name)
    }
}

/// Parse the template definition at chunk offset `def` into elements (index 0: the root).
fn parse_definition(chunk: &[u8], def: usize) -> R<Vec<Element>> {
    let mut c = Cursor { data: chunk, pos: def };
    c.take(20)?; // next template offset, GUID
    let size = c.u32()? as usize;
    let end = c.pos.checked_add(size).ok_or(Unplanned)?;
    if end > chunk.len() {
        return Err(Unplanned);
    }
    let mut elements: Vec<Element> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    // attribute whose value tokens are being read (element index, attribute index)
    let mut attr: Option<(usize, usize)> = None;
    let mut in_start = false;
    while c.pos < end {
        let token = c.u8()?;
        let item = match token {
            0x00 => break,
            0x0f => {
                c.take(3)?;
                continue;
            }
            0x01 | 0x41 => {
                c.u16()?; // dependency id (template definitions carry one)
                c.u32()?; // data size
                let name = c.name(chunk)?;
                if token == 0x41 {
                    c.u32()?; // attribute list size
                }
                let idx = elements.len();
                elements.push(Element { name, ..Element::default() });
                if let Some(&parent) = stack.last() {
                    elements[parent].children.push(Item::Element(idx));
                } else if idx != 0 {
                    return Err(Unplanned); // a second root
                }
                stack.push(idx);
                in_start = true;
                attr = None;
                continue;
            }
            0x02 => {
                if !in_start {
                    return Err(Unplanned);
                }
                in_start = false;
                attr = None;
                continue;
            }
            0x03 | 0x04 => {
                if (token == 0x03) != in_start {
                    return Err(Unplanned);
                }
                stack.pop().ok_or(Unplanned)?;
                in_start = false;
                attr = None;
                continue;
            }
            0x06 | 0x46 => {
                let name = c.name(chunk)?;
                let el = *stack.last().ok_or(Unplanned)?;
                if !in_start {
                    return Err(Unplanned);
                }
                elements[el].attrs.push((name, Vec::new()));
                attr = Some((el, elements[el].attrs.len() - 1));
                continue;
            }
            0x05 | 0x45 => {
                if c.u8()? != 0x01 {
                    return Err(Unplanned); // a literal value that is not a string
                }
                let n = c.u16()? as usize;
                Item::Text(c.utf16(n)?)
            }
            0x0d | 0x0e => {
                let slot = c.u16()?;
                c.u8()?; // value type
                Item::Slot(slot)
            }
            0x07 | 0x47 => {
                let n = c.u16()? as usize;
                c.take(n.checked_mul(2).ok_or(Unplanned)?)?;
                Item::Other
            }
            0x08 | 0x48 => {
                c.u16()?;
                Item::Other
            }
            0x09 | 0x49 => {
                c.name(chunk)?;
                Item::Other
            }
            _ => return Err(Unplanned), // template instances or PIs inside a definition
        };
        match attr {
            Some((el, a)) if in_start => elements[el].attrs[a].1.push(item),
            _ => {
                if in_start {
                    return Err(Unplanned); // content before the start tag closed
                }
                let el = *stack.last().ok_or(Unplanned)?;
                elements[el].children.push(item);
            }
        }
    }
    if !stack.is_empty() || elements.is_empty() {
        return Err(Unplanned);
    }
    Ok(elements)
}

/// The element children of `el` (any other content item: `Err`).
fn child_elements(elements: &[Element], el: usize) -> R<Vec<usize>> {
    elements[el]
        .children
        .iter()
        .map(|i| match i {
            Item::Element(e) => Ok(*e),
            _ => Err(Unplanned),
        })
        .collect()
}

/// The source of a leaf whose content is one placeholder, one non-empty text or nothing.
fn leaf(items: &[Item]) -> R<Src> {
    match items {
        [] => Ok(Src::Absent),
        [Item::Slot(s)] => Ok(Src::Slot(*s)),
        [Item::Text(t)] if !t.is_empty() => Ok(Src::Text(t.clone())),
        _ => Err(Unplanned),
    }
}

/// The plan of the template definition at chunk offset `def`. `system_cols`: the columns of the
/// System fields (they win over EventData fields of the same name).
pub fn plan(chunk: &[u8], def: usize, fields: &Fields, system_cols: &[usize]) -> R<Plan> {
    let elements = parse_definition(chunk, def)?;
    if elements[0].name != "Event" {
        return Err(Unplanned);
    }
    let mut system = None;
    let mut event_data = None;
    let mut user_data = false;
    let mut nested = None;
    for item in &elements[0].children {
        let e = match item {
            Item::Element(e) => *e,
            // a value that is a BinXML fragment: the event data of older and forwarded logs
            Item::Slot(s) if nested.is_none() => {
                nested = Some(*s);
                continue;
            }
            _ => return Err(Unplanned),
        };
        match elements[e].name.as_str() {
            "System" if system.is_none() => system = Some(e),
            "EventData" if event_data.is_none() => event_data = Some(e),
            "System" | "EventData" => return Err(Unplanned),
            "UserData" => user_data = true,
            _ => {}
        }
    }
    if nested.is_some() && (event_data.is_some() || user_data) {
        return Err(Unplanned);
    }
    let mut p = Plan {
        event_id: Src::Absent,
        channel: Src::Absent,
        computer: Src::Absent,
        time_created: Src::Absent,
        record_id: Src::Absent,
        data: None,
        nested,
    };
    if let Some(sys) = system {
        let mut seen = [false; 5];
        for e in child_elements(&elements, sys)? {
            let el = &elements[e];
            let (i, target) = match el.name.as_str() {
                "EventID" => (0, &mut p.event_id),
                "Channel" => (1, &mut p.channel),
                "Computer" => (2, &mut p.computer),
                "TimeCreated" => (3, &mut p.time_created),
                "EventRecordID" => (4, &mut p.record_id),
                _ => continue,
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(Unplanned); // a repeated System field
            }
            *target = if i == 3 {
                match el.attrs.iter().find(|(n, _)| n == "SystemTime") {
                    None => Src::Absent,
                    Some((_, items)) => match leaf(items)? {
                        Src::Slot(s) => Src::Slot(s),
                        _ => return Err(Unplanned), // literal attribute text: not planned
                    },
                }
            } else {
                leaf(&el.children)?
            };
        }
        if p.record_id == Src::Absent && seen[4] {
            return Err(Unplanned); // <EventRecordID/>: null, not the header's id
        }
    }
    p.data = if user_data { None } else { event_data_plan(&elements, event_data, fields, system_cols) };
    Ok(p)
}

/// The EventData mapping of a nested template (the content of a BinXML value under `Event`):
/// `None` unless its root is an `EventData` of the planned shape.
pub fn nested_plan(chunk: &[u8], def: usize, fields: &Fields, system_cols: &[usize]) -> Option<Vec<(usize, u16)>> {
    let elements = parse_definition(chunk, def).ok()?;
    if elements[0].name != "EventData" {
        return None;
    }
    event_data_plan(&elements, Some(0), fields, system_cols)
}

fn event_data_plan(elements: &[Element], ed: Option<usize>, fields: &Fields, system_cols: &[usize])
    -> Option<Vec<(usize, u16)>> {
    let Some(ed) = ed else { return Some(Vec::new()) };
    let mut out: Vec<(usize, u16)> = Vec::new();
    for e in child_elements(elements, ed).ok()? {
        let el = &elements[e];
        if el.name != "Data" {
            if fields.contains_key(el.name.as_str()) {
                return None; // rendered under its element name
            }
            continue;
        }
        let name = match el.attrs.iter().find(|(n, _)| n == "Name") {
            None => {
                if fields.contains_key("Data") {
                    return None; // unnamed Data values are rendered as a "Data" list
                }
                continue;
            }
            // a placeholder or empty name changes how the renderer lays all Data out
            Some((_, items)) => match items.as_slice() {
                [Item::Text(t)] if !t.is_empty() => t.as_str(),
                _ => return None,
            },
        };
        let Some(&col) = fields.get(name) else { continue };
        if system_cols.contains(&col) {
            continue; // the System field wins
        }
        if out.iter().any(|&(c, _)| c == col) {
            return None; // a repeated name
        }
        match el.children.as_slice() {
            [Item::Slot(s)] => out.push((col, *s)),
            _ => return None,
        }
    }
    Some(out)
}
