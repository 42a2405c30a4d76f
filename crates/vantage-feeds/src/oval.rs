//! OVAL definitions of Red Hat (RHSA), Rocky Linux (RLSA), AlmaLinux and Ubuntu (USN): for each
//! patch definition, the packages it fixes and the version that fixes them, per CVE.
//!
//! An OVAL file is a graph: a definition's criteria name tests; a test joins an object (the
//! package: a name, or a variable listing several names) and a state (`evr` "less than" the
//! fixed version). The parser streams the XML once (quick-xml), keeps the four tables (tests,
//! objects, states, constant variables) and the definitions, then resolves every package test
//! under each definition's criteria into [`DistroFix`] rows: (distro, release, binary package,
//! CVE, fixed version, advisory). Tests that are not package-version checks (the release check,
//! "signed with Red Hat key", kernel uname and live-patch variables) carry no fix and are skipped.
//! Fixes only available with Ubuntu Pro get the status `fixed_esm`.
//!
//! CVE ids come from the definition's CVE references and `<cve>` elements; Rocky's definitions
//! name their CVEs only in the title and description, so those are read as a fallback.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use vantage_domain::{DistroFix, VulnId};

use crate::distro::DistroFile;
use crate::error::FeedError;

#[derive(Default)]
struct Definition {
    id: String,
    class: String,
    title: String,
    description: String,
    platforms: Vec<String>,
    advisory: Option<String>,
    cves: BTreeSet<String>,
    tests: Vec<String>,
    /// `cpe:/o:rocky:rocky:9:GA` (Rocky's `advisory from`).
    advisory_from: Option<String>,
}

#[derive(Default)]
struct PackageState {
    evr: Option<String>,
    pro: bool,
}

/// What the element being read is, so its text lands in the right field.
#[derive(Clone, Copy, PartialEq)]
enum Text {
    None,
    Title,
    Description,
    Platform,
    Cve,
    ObjectName,
    StateEvr,
    VariableValue,
    ProductName,
}

/// Parses an OVAL definitions file (plain or gzip).
pub fn parse_oval(path: &Path) -> Result<DistroFile, FeedError> {
    let input = crate::input::open(path)?;
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(false);
    let xml_err = |reader: &Reader<_>, e: &dyn std::fmt::Display| {
        FeedError::record(
            path,
            format!("byte {}", reader.buffer_position()),
            format!("malformed XML: {e}"),
        )
    };

    let mut product = String::new();
    let mut defs: Vec<Definition> = Vec::new();
    let mut tests: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    let mut objects: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    let mut states: HashMap<String, PackageState> = HashMap::new();
    let mut variables: HashMap<String, Vec<String>> = HashMap::new();

    let mut section = String::new();
    let mut def: Option<Definition> = None;
    let mut current_test: Option<String> = None;
    let mut current_object: Option<String> = None;
    let mut current_state: Option<String> = None;
    let mut current_var: Option<String> = None;
    let mut text_kind = Text::None;
    let mut text = String::new();
    let mut saw_root = false;
    let mut buf = Vec::new();

    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| xml_err(&reader, &e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = local(e);
                let attr = |k: &str| attr(e, k);
                match name.as_str() {
                    "oval_definitions" => saw_root = true,
                    "definitions" | "tests" | "objects" | "states" | "variables" => {
                        section = name.clone()
                    }
                    "product_name" => text_kind = Text::ProductName,
                    _ => {}
                }
                match section.as_str() {
                    "definitions" => match name.as_str() {
                        "definition" => {
                            def = Some(Definition {
                                id: attr("id").unwrap_or_default(),
                                class: attr("class").unwrap_or_default(),
                                ..Default::default()
                            })
                        }
                        "title" => text_kind = Text::Title,
                        "description" => text_kind = Text::Description,
                        "platform" => text_kind = Text::Platform,
                        "cve" => text_kind = Text::Cve,
                        "reference" => {
                            if let Some(d) = def.as_mut() {
                                let source = attr("source").unwrap_or_default();
                                let id = attr("ref_id").unwrap_or_default();
                                if source.eq_ignore_ascii_case("CVE") {
                                    d.cves.insert(id);
                                } else if d.advisory.is_none() && !id.is_empty() {
                                    d.advisory = Some(id);
                                }
                            }
                        }
                        "advisory" => {
                            if let Some(d) = def.as_mut() {
                                d.advisory_from = attr("from");
                            }
                        }
                        "criterion" => {
                            if let (Some(d), Some(t)) = (def.as_mut(), attr("test_ref")) {
                                d.tests.push(t);
                            }
                        }
                        _ => {}
                    },
                    "tests" if name.ends_with("_test") => {
                        current_test = if name == "rpminfo_test" || name == "dpkginfo_test" {
                            let id = attr("id").unwrap_or_default();
                            tests.insert(id.clone(), (None, None));
                            Some(id)
                        } else {
                            None
                        };
                    }
                    "tests" => {
                        if let Some(t) = current_test.as_ref().and_then(|t| tests.get_mut(t)) {
                            match name.as_str() {
                                "object" => t.0 = attr("object_ref"),
                                "state" => t.1 = attr("state_ref"),
                                _ => {}
                            }
                        }
                    }
                    "objects" if name == "rpminfo_object" || name == "dpkginfo_object" => {
                        let id = attr("id").unwrap_or_default();
                        objects.insert(id.clone(), (None, None));
                        current_object = Some(id);
                    }
                    "objects" if name == "name" => {
                        if let Some(o) = current_object.as_ref().and_then(|o| objects.get_mut(o)) {
                            o.1 = attr("var_ref");
                            text_kind = Text::ObjectName;
                        }
                    }
                    "states" if name == "rpminfo_state" || name == "dpkginfo_state" => {
                        let id = attr("id").unwrap_or_default();
                        let pro = attr("comment").is_some_and(|c| c.contains("Ubuntu Pro"));
                        states.insert(id.clone(), PackageState { evr: None, pro });
                        current_state = Some(id);
                    }
                    "states"
                        if name == "evr"
                            && current_state.is_some()
                            && attr("operation").as_deref() == Some("less than") =>
                    {
                        text_kind = Text::StateEvr;
                    }
                    "variables" if name == "constant_variable" => {
                        let id = attr("id").unwrap_or_default();
                        variables.insert(id.clone(), Vec::new());
                        current_var = Some(id);
                    }
                    "variables" if name == "value" && current_var.is_some() => {
                        text_kind = Text::VariableValue
                    }
                    _ => {}
                }
                if empty {
                    // No text and no end event follow an empty element.
                    text_kind = Text::None;
                    if name == "definition"
                        && let Some(d) = def.take()
                    {
                        defs.push(d);
                    }
                }
                text.clear();
            }
            Event::Text(t) if text_kind != Text::None => text.push_str(&t.xml10_content()),
            Event::CData(t) if text_kind != Text::None => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if text_kind != Text::None => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| xml_err(&reader, &e))? {
                    text.push(c);
                } else {
                    let name = r.xml10_content();
                    match quick_xml::escape::resolve_xml_entity(&name) {
                        Some(s) => text.push_str(s),
                        None => {
                            return Err(xml_err(&reader, &format!("unknown entity &{name};")));
                        }
                    }
                }
            }
            Event::End(ref e) => {
                let name = e.local_name().as_ref().to_string();
                let value = std::mem::take(&mut text);
                let value = value.trim();
                match (text_kind, def.as_mut()) {
                    (Text::ProductName, _) => product = value.to_string(),
                    (Text::Title, Some(d)) => d.title = value.to_string(),
                    (Text::Description, Some(d)) => d.description = value.to_string(),
                    (Text::Platform, Some(d)) => d.platforms.push(value.to_string()),
                    (Text::Cve, Some(d)) if !value.is_empty() => {
                        d.cves.insert(value.to_string());
                    }
                    (Text::ObjectName, _) => {
                        if let Some(o) = current_object.as_ref().and_then(|o| objects.get_mut(o))
                            && !value.is_empty()
                        {
                            o.0 = Some(value.to_string());
                        }
                    }
                    (Text::StateEvr, _) => {
                        if let Some(s) = current_state.as_ref().and_then(|s| states.get_mut(s)) {
                            s.evr = Some(value.to_string());
                        }
                    }
                    (Text::VariableValue, _) => {
                        if let Some(v) = current_var.as_ref().and_then(|v| variables.get_mut(v)) {
                            v.push(value.to_string());
                        }
                    }
                    _ => {}
                }
                text_kind = Text::None;
                match name.as_str() {
                    "definition" => {
                        if let Some(d) = def.take() {
                            defs.push(d);
                        }
                    }
                    "rpminfo_test" | "dpkginfo_test" => current_test = None,
                    "rpminfo_object" | "dpkginfo_object" => current_object = None,
                    "rpminfo_state" | "dpkginfo_state" => current_state = None,
                    "constant_variable" => current_var = None,
                    "definitions" | "tests" | "objects" | "states" | "variables" => section.clear(),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(FeedError::Format {
            path: path.to_path_buf(),
            message: "not an OVAL definitions file (no <oval_definitions>)".into(),
        });
    }

    let (distro, release) = identify(&product, &defs).ok_or_else(|| FeedError::Format {
        path: path.to_path_buf(),
        message: format!(
            "OVAL file of an unknown distribution (generator `{product}`): Red Hat, Rocky, \
             AlmaLinux and Ubuntu are understood"
        ),
    })?;
    let collection = format!("oval:{distro}:{release}");
    let mut fixes = Vec::new();
    for d in &defs {
        if d.class != "patch" && d.class != "vulnerability" {
            continue;
        }
        let mut cves: BTreeSet<String> = d
            .cves
            .iter()
            .filter(|c| c.starts_with("CVE-"))
            .cloned()
            .collect();
        if cves.is_empty() {
            cves = cve_ids_in(&d.title)
                .chain(cve_ids_in(&d.description))
                .collect();
        }
        let advisory = d.advisory.clone().or_else(|| {
            d.title
                .split([':', ' '])
                .next()
                .filter(|s| s.contains('-'))
                .map(|s| s.to_string())
        });
        // (package, fixed version, Ubuntu Pro only), each once per definition.
        let mut packages: Vec<(String, String, bool)> = Vec::new();
        for t in &d.tests {
            let Some((Some(obj), Some(state))) = tests.get(t) else {
                continue;
            };
            let Some(PackageState {
                evr: Some(evr),
                pro,
            }) = states.get(state)
            else {
                continue;
            };
            let names: Vec<&String> = match objects.get(obj) {
                Some((Some(name), _)) => vec![name],
                Some((None, Some(var))) => variables
                    .get(var)
                    .map(|v| v.iter().collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            for n in names {
                let p = (n.clone(), evr.clone(), *pro);
                if !packages.contains(&p) {
                    packages.push(p);
                }
            }
        }
        for cve in &cves {
            let Ok(vuln_id) = cve.parse::<VulnId>() else {
                continue;
            };
            for (package, evr, pro) in &packages {
                fixes.push(DistroFix {
                    distro: distro.clone(),
                    release: release.clone(),
                    collection: collection.clone(),
                    package: package.clone(),
                    vuln_id: vuln_id.clone(),
                    status: if *pro { "fixed_esm" } else { "fixed" }.into(),
                    fixed_version: Some(evr.clone()),
                    advisory: advisory.clone(),
                });
            }
        }
    }
    Ok(DistroFile { collection, fixes })
}

/// The element's name without its namespace prefix.
fn local(e: &BytesStart<'_>) -> String {
    e.local_name().as_ref().to_string()
}

fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == key)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

fn cve_ids_in(text: &str) -> impl Iterator<Item = String> + '_ {
    text.match_indices("CVE-").filter_map(|(i, _)| {
        let rest = &text[i + 4..];
        let year: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let after = rest.get(year.len()..)?.strip_prefix('-')?;
        let num: String = after.chars().take_while(char::is_ascii_digit).collect();
        (year.len() == 4 && num.len() >= 4).then(|| format!("CVE-{year}-{num}"))
    })
}

/// (distro, release) from the generator and the definitions.
fn identify(product: &str, defs: &[Definition]) -> Option<(String, String)> {
    let first_number = |s: &str| -> Option<String> {
        let start = s.find(|c: char| c.is_ascii_digit())?;
        let n: String = s[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        Some(n.trim_end_matches('.').to_string())
    };
    let platform = |prefix: &str| {
        defs.iter()
            .flat_map(|d| &d.platforms)
            .find(|p| p.starts_with(prefix))
            .and_then(|p| first_number(&p[prefix.len()..]))
    };
    let p = product.to_ascii_lowercase();
    if p.contains("canonical") || defs.iter().any(|d| d.id.starts_with("oval:com.ubuntu.")) {
        // The inventory definition: "Check that Ubuntu 24.04 LTS (noble) is installed."
        let release = defs
            .iter()
            .find_map(|d| {
                let i = d.title.find("Ubuntu ")?;
                first_number(&d.title[i + 7..]).filter(|n| n.contains('.'))
            })
            .or_else(|| {
                defs.first()
                    .and_then(|d| d.id.strip_prefix("oval:com.ubuntu."))
                    .and_then(|r| r.split(':').next())
                    .map(str::to_string)
            })?;
        return Some(("ubuntu".into(), release));
    }
    if p.contains("rocky") || defs.iter().any(|d| d.id.starts_with("oval:org.rockylinux")) {
        let release = defs
            .iter()
            .find_map(|d| {
                d.advisory_from
                    .as_deref()?
                    .strip_prefix("cpe:/o:rocky:rocky:")
                    .and_then(first_number)
            })
            .or_else(|| platform("Rocky Linux"))?;
        return Some(("rocky".into(), release));
    }
    if p.contains("alma") || defs.iter().any(|d| d.id.starts_with("oval:org.almalinux")) {
        return Some(("almalinux".into(), platform("AlmaLinux")?));
    }
    if p.contains("red hat") || defs.iter().any(|d| d.id.starts_with("oval:com.redhat")) {
        return Some(("rhel".into(), platform("Red Hat Enterprise Linux")?));
    }
    None
}
