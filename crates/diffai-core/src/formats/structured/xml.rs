//! XML through quick-xml, mapped as Python's `xmltodict` maps it (so the tree is one users
//! already know, and the fixtures are checked against it):
//!
//! - the document is a map with one entry, the root element;
//! - an element with attributes or child elements → a map: attributes first as `@name` (in file
//!   order), then child elements by name in order of first appearance, then its text as `#text`;
//! - child elements repeated under one name → a list at the first one's position (so a second
//!   `<item>` turns `item` from a map into a list);
//! - an element with only text → that text (`Str`); an empty element → `Null`;
//! - text is the element's character data and CDATA joined, with entity and character
//!   references resolved, trimmed of leading and trailing whitespace (whitespace-only text is
//!   none); values stay strings;
//! - names keep their namespace prefix as written (`ns:tag`, `@xsi:type`), and `xmlns`
//!   declarations stay attributes (`@xmlns:ns`); namespaces are not resolved;
//! - comments, processing instructions, the XML declaration and the DOCTYPE are dropped.
//!
//! Only UTF-8 documents are read; entities a DTD declares are not expanded (a reference to one is
//! an error), so entity-expansion bombs cannot happen.

use std::collections::HashMap;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::XmlVersion;

use crate::value::{Map, Value};

use super::{at_offset, text, too_deep, MAX_DEPTH};

/// Parses a whole XML document.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let text = text(bytes)?;
    let mut reader = quick_xml::Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    config.check_comments = true;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Value> = None;
    loop {
        let event_start = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| at_offset(text, reader.error_position() as usize, e))?;
        let err = |m: String| at_offset(text, event_start, m);
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() && stack.is_empty() => {
                return Err(err("a second root element (a document has one)".into()));
            }
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(too_deep()));
                }
                stack.push(Element::open(&e).map_err(err)?);
            }
            Event::Empty(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(too_deep()));
                }
                let element = Element::open(&e).map_err(err)?;
                close(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| err("closing tag without an opening one".into()))?;
                close(element, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let content = t.xml10_content().map_err(|e| err(e.to_string()))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(err("text outside the root element".into())),
                }
            }
            Event::CData(t) => {
                let content = t.xml10_content().map_err(|e| err(e.to_string()))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&content),
                    None => return Err(err("CDATA outside the root element".into())),
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|e| err(e.to_string()))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| err(e.to_string()))?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| err(format!("unknown entity '&{name};' (entities a DTD declares are not expanded)")))?
                            .to_string()
                    }
                };
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&c),
                    None => return Err(err("text outside the root element".into())),
                }
            }
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(at_offset(
            text,
            text.len(),
            format!(
                "unexpected end of input: element <{}> is not closed",
                open.name
            ),
        ));
    }
    match root {
        Some(v) => Ok(v),
        None => Err(at_offset(text, text.len(), "no root element")),
    }
}

/// An element being read.
struct Element {
    name: String,
    /// Attributes (`@name`) then child elements by name, in order.
    entries: Vec<(String, Value)>,
    /// Position in `entries` of each child element name.
    children: HashMap<String, usize>,
    text: String,
}

impl Element {
    fn open(e: &BytesStart) -> Result<Element, String> {
        let name = std::str::from_utf8(e.name().as_ref())
            .map_err(|e| e.to_string())?
            .to_string();
        let mut entries = Vec::new();
        for attr in e.attributes().with_checks(true) {
            let attr = attr.map_err(|e| e.to_string())?;
            let key = std::str::from_utf8(attr.key.as_ref()).map_err(|e| e.to_string())?;
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| format!("attribute {key}: {e}"))?;
            entries.push((format!("@{key}"), Value::Str(value.into_owned())));
        }
        Ok(Element {
            name,
            entries,
            children: HashMap::new(),
            text: String::new(),
        })
    }

    /// Adds a finished child element; a repeated name turns the first one's entry into a list.
    fn add_child(&mut self, name: String, value: Value) {
        match self.children.get(&name) {
            None => {
                self.children.insert(name.clone(), self.entries.len());
                self.entries.push((name, value));
            }
            Some(&at) => match &mut self.entries[at].1 {
                // Repeated children are the only lists an element holds.
                Value::List(items) => items.push(value),
                existing => {
                    let first = std::mem::replace(existing, Value::Null);
                    *existing = Value::List(vec![first, value]);
                }
            },
        }
    }

    fn finish(self) -> Value {
        let text = self.text.trim();
        if self.entries.is_empty() {
            return if text.is_empty() {
                Value::Null
            } else {
                Value::Str(text.to_string())
            };
        }
        // Names are unique: attributes were checked, children grouped, `#text` cannot be a name.
        let mut map = Map::new();
        for (k, v) in self.entries {
            map.push(k, v);
        }
        if !text.is_empty() {
            map.push("#text".into(), Value::Str(text.to_string()));
        }
        Value::Map(map)
    }
}

/// Hands a finished element to its parent, or makes it the document's root.
fn close(element: Element, stack: &mut [Element], root: &mut Option<Value>) {
    let name = element.name.clone();
    let value = element.finish();
    match stack.last_mut() {
        Some(parent) => parent.add_child(name, value),
        None => {
            let mut doc = Map::new();
            doc.push(name, value);
            *root = Some(Value::Map(doc));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Value {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn json(v: &Value) -> String {
        match v {
            Value::Null => "null".into(),
            Value::Str(s) => format!("{s:?}"),
            Value::List(l) => format!("[{}]", l.iter().map(json).collect::<Vec<_>>().join(",")),
            Value::Map(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{k:?}:{}", json(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mapping_follows_xmltodict() {
        let v = p(r#"<?xml version="1.0"?>
<!-- c --><cfg xmlns:ns="urn:x" v="1"><a>x &amp; y</a><b/><a n="2">z</a><ns:c><![CDATA[<raw>]]></ns:c>
  tail &#233;</cfg>"#);
        assert_eq!(
            json(&v),
            r##"{"cfg":{"@xmlns:ns":"urn:x","@v":"1","a":["x & y",{"@n":"2","#text":"z"}],"b":null,"ns:c":"<raw>","#text":"tail é"}}"##
        );
    }

    #[test]
    fn errors_are_one_located_line() {
        for (text, want) in [
            ("<a><b></a>", "line 1, column 7: "),
            ("<a>\n<b>\n", "line 3, column 1: unexpected end of input"),
            ("<a/><b/>", "line 1, column 5: a second root element"),
            ("<a>&foo;</a>", "line 1, column 4: unknown entity '&foo;'"),
            ("<a x='1' x='2'/>", "line 1, column 1: "),
            ("", "line 1, column 1: no root element"),
            ("text", "line 1, column 1: text outside"),
        ] {
            let e = parse(text.as_bytes()).unwrap_err();
            assert!(e.starts_with(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{text:?}: {e}");
        }
    }

    #[test]
    fn depth_is_capped() {
        let ok = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes())
            .unwrap_err()
            .contains("nested deeper"));
    }
}
