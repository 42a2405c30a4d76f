//! A small element tree for the AWS Query APIs' XML answers (EC2's `<item>` lists, ELBv2's and
//! STS's `<member>` lists): read once with `quick-xml`, then walked by name. Attributes and
//! namespaces are ignored (the Query APIs carry everything in elements); depth is capped.

use quick_xml::Reader;
use quick_xml::events::Event;

/// An element: local name, text, children.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// Local name (namespace prefix dropped).
    pub name: String,
    /// Concatenated text content (trimmed).
    pub text: String,
    /// Child elements, in order.
    pub children: Vec<Node>,
}

const MAX_DEPTH: usize = 64;

impl Node {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child named `name`, when present and not empty.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.as_str())
            .filter(|t| !t.is_empty())
    }

    /// The descendant at `path` (child names).
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        let mut n = self;
        for p in path {
            n = n.child(p)?;
        }
        Some(n)
    }

    /// The list elements (`item` or `member`) of the child named `name`.
    pub fn list<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Node> + 'a {
        self.child(name)
            .into_iter()
            .flat_map(|c| c.children.iter())
            .filter(|c| c.name == "item" || c.name == "member")
    }
}

/// Parses a document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Node, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        match ev {
            Event::Start(e) => {
                if stack.len() > MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} elements"));
                }
                stack.push(Node {
                    name: local(e.local_name().as_ref()),
                    ..Node::default()
                });
            }
            Event::Empty(e) => {
                let n = Node {
                    name: local(e.local_name().as_ref()),
                    ..Node::default()
                };
                if let Some(top) = stack.last_mut() {
                    top.children.push(n);
                }
            }
            Event::End(_) => {
                let mut n = stack.pop().ok_or("unbalanced end tag")?;
                n.text = n.text.trim().to_string();
                match stack.last_mut() {
                    Some(top) => top.children.push(n),
                    None => return Err("unbalanced end tag".into()),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r.xml10_content();
                        quick_xml::escape::resolve_xml_entity(&name)
                            .ok_or_else(|| format!("unknown entity `&{name};`"))?
                            .to_string()
                    }
                    Err(e) => return Err(format!("at byte {}: {e}", reader.buffer_position())),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err("document ends inside an element".into());
    }
    let root = stack.pop().unwrap_or_default();
    root.children
        .into_iter()
        .next()
        .ok_or_else(|| "empty document".to_string())
}

fn local(name: &str) -> String {
    name.rsplit_once(':').map_or(name, |(_, l)| l).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_query_api_lists_and_entities() {
        let doc = br#"<?xml version="1.0"?>
<DescribeX xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <set><item><k>a &amp; b</k></item><item><k>c</k></item></set>
  <empty/>
</DescribeX>"#;
        let n = parse(doc).unwrap();
        assert_eq!(n.name, "DescribeX");
        let ks: Vec<_> = n.list("set").filter_map(|i| i.text_of("k")).collect();
        assert_eq!(ks, ["a & b", "c"]);
        assert!(n.child("empty").is_some() && n.text_of("empty").is_none());
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a>").is_err());
    }
}
