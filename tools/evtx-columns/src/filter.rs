//! Which records are kept: event ids and Sysmon channels, from decoded values or, for records
//! the Python decoder takes, from the rendered JSON string as the Python path scans it.

use std::collections::{HashMap, HashSet};

use crate::decode::Sc;

/// Leading ASCII digits of `s` as an event id (None: no digits or too large), like the Python
/// path's regular expression.
pub(crate) fn leading_id(s: &str) -> Option<u64> {
    let end = s.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 {
        return None;
    }
    s[..end].parse::<u64>().ok()
}

/// The event id the Python path's string filter finds (None: none found; the record is kept and
/// normalisation counts it).
pub(crate) fn event_id(v: &Sc) -> Option<u64> {
    match v {
        Sc::Int(i) => u64::try_from(*i).ok(),
        Sc::Str(s) => leading_id(s),
        Sc::Null => None,
    }
}

/// The event id the Python path's string scan (`evtx_file.event_id_of`) finds in a rendered
/// record: `"EventID":<digits>`, else the first `"EventID":` followed by `"?<digits>` or by an
/// object (one nesting level inside) whose `"#text":` is `"?<digits>`.
pub(crate) fn json_event_id(data: &str) -> Option<u64> {
    const KEY: &str = "\"EventID\":";
    let at = data.find(KEY)?;
    if let Some(id) = leading_id(&data[at + KEY.len()..]) {
        return Some(id);
    }
    data[at..].match_indices(KEY).find_map(|(i, _)| {
        let rest = data[at + i + KEY.len()..].trim_start();
        match rest.as_bytes().first()? {
            b'{' => {
                let (mut depth, mut k) = (1usize, 1usize);
                let b = rest.as_bytes();
                while k < b.len() {
                    match b[k] {
                        b'{' if depth == 2 => return None,
                        b'{' => depth += 1,
                        b'}' if depth == 1 => return None,
                        b'}' => depth -= 1,
                        b'"' if depth == 1 && rest[k..].starts_with("\"#text\":") => {
                            let v = rest[k + 8..].trim_start();
                            if let Some(id) = leading_id(v.strip_prefix('"').unwrap_or(v)) {
                                return Some(id);
                            }
                        }
                        _ => {}
                    }
                    k += 1;
                }
                None
            }
            _ => leading_id(rest.strip_prefix('"').unwrap_or(rest)),
        }
    })
}

/// False when the rendered record's `"Channel":"..."` surely is not one the id is kept from: the
/// Python path's string check (`evtx_file.channel_allows`) for records it decodes itself.
pub(crate) fn json_channel_allows(data: &str, channel_map: &HashMap<String, String>, allowed: &HashSet<String>) -> bool {
    const KEY: &str = "\"Channel\":\"";
    let Some(at) = data.find(KEY) else { return true };
    let Some(len) = data[at + KEY.len()..].find('"') else { return true };
    let raw = &data[at + KEY.len()..at + KEY.len() + len];
    if raw.contains('\\') {
        return true;
    }
    let space = |c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c);   // str.strip()'s set
    let text = raw.trim_matches(space).trim_matches('\0').trim_matches(space);
    known_channel_allows(text, channel_map, allowed)
}

/// True when the rendered record's `"EventID":<digits>` is an id not kept (no JSON parse needed).
pub(crate) fn pre_drop(data: &str, keep: &HashSet<u64>) -> bool {
    let Some(at) = data.find("\"EventID\":") else { return false };
    let rest = data[at + 10..].trim_start();
    let end = rest.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 || !rest[end..].starts_with([',', '}', ' ', '\n', '\r', '\t']) {
        return false;
    }
    rest[..end].parse::<u64>().is_ok_and(|id| !keep.contains(&id))
}

/// False only when the channel surely is not one the id is kept from (normalisation decides
/// the doubtful cases, counting them the same way).
pub(crate) fn channel_allows(channel_map: &HashMap<String, String>, channel: Option<&str>, allowed: &HashSet<String>) -> bool {
    let Some(raw) = channel else { return true };
    if !raw.is_ascii() || raw.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return true;
    }
    known_channel_allows(raw.trim(), channel_map, allowed)
}

/// Whether trimmed channel `text` (canonical name or any case of a known alias) is one of
/// `allowed`; an empty channel never is.
fn known_channel_allows(text: &str, channel_map: &HashMap<String, String>, allowed: &HashSet<String>) -> bool {
    if text.is_empty() {
        return false;
    }
    match channel_map.get(&text.to_lowercase()) {
        Some(canonical) => allowed.contains(canonical),
        None => allowed.contains(text),
    }
}
