//! nmap's XML output (`nmap -oX`), for teams that already run nmap: hosts, their addresses and
//! names, open TCP ports and the `-sV` service facts (name, product, version, extra info, tunnel,
//! CPEs). Read as a stream; a malformed file is refused with the byte position.

use std::net::IpAddr;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::ScanError;
use crate::connect::PortState;
use crate::fingerprint::ServiceReport;
use crate::scan::{HostReport, PortReport};

/// What an nmap XML file holds.
#[derive(Debug, Clone, Default)]
pub struct NmapRun {
    /// nmap's version.
    pub version: String,
    /// The command line nmap ran.
    pub args: String,
    /// Hosts that were up, with their open ports.
    pub hosts: Vec<HostReport>,
    /// The TCP ports nmap scanned (`<scaninfo protocol="tcp" services=…>`).
    pub scanned_ports: Vec<u16>,
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// Parses nmap XML; `origin` names the file in errors.
pub fn parse(xml: &str, origin: &str) -> Result<NmapRun, ScanError> {
    let mut reader = Reader::from_str(xml);
    let mut run = NmapRun::default();
    let mut saw_root = false;
    let mut host: Option<HostReport> = None;
    let mut host_up = false;
    let mut port: Option<PortReport> = None;
    let mut port_open = false;
    let mut in_cpe = false;
    let err = |pos: u64, why: String| ScanError::NmapXml(format!("{origin} (byte {pos})"), why);
    loop {
        let pos = reader.buffer_position();
        let ev = reader.read_event().map_err(|e| err(pos, e.to_string()))?;
        let empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                match e.name().as_ref() {
                    "nmaprun" => {
                        saw_root = true;
                        run.version = attr(&e, "version").unwrap_or_default();
                        run.args = attr(&e, "args").unwrap_or_default();
                    }
                    _ if !saw_root => {
                        return Err(err(
                            pos,
                            "not nmap XML: the root element is not <nmaprun>".into(),
                        ));
                    }
                    "scaninfo" if attr(&e, "protocol").as_deref() == Some("tcp") => {
                        let list = attr(&e, "services").unwrap_or_default();
                        let ports = crate::ports::parse_ports(&list)
                            .map_err(|e| err(pos, format!("scaninfo services: {e}")))?;
                        run.scanned_ports.extend(ports);
                    }
                    // An empty <host/> or <port/> holds nothing to read.
                    "host" | "port" if empty => {}
                    "host" => {
                        host = Some(HostReport {
                            ip: IpAddr::from([0, 0, 0, 0]),
                            hostname: None,
                            up: true,
                            rtt_ms: None,
                            ports: Vec::new(),
                            closed: 0,
                            filtered: 0,
                            elapsed_ms: 0,
                        });
                        host_up = false;
                    }
                    "status" => host_up = attr(&e, "state").as_deref() == Some("up"),
                    "address" => {
                        if let Some(h) = host.as_mut()
                            && matches!(attr(&e, "addrtype").as_deref(), Some("ipv4" | "ipv6"))
                        {
                            let a = attr(&e, "addr").unwrap_or_default();
                            h.ip = a.parse().map_err(|_| {
                                err(pos, format!("address `{a}` is not an IP address"))
                            })?;
                        }
                    }
                    "hostname" => {
                        if let Some(h) = host.as_mut()
                            && h.hostname.is_none()
                        {
                            h.hostname = attr(&e, "name");
                        }
                    }
                    "extraports" => {
                        if let Some(h) = host.as_mut() {
                            let n: u32 =
                                attr(&e, "count").and_then(|c| c.parse().ok()).unwrap_or(0);
                            match attr(&e, "state").as_deref() {
                                Some("closed") => h.closed += n,
                                Some("filtered") => h.filtered += n,
                                _ => {}
                            }
                        }
                    }
                    "port" => {
                        let proto = attr(&e, "protocol").unwrap_or_default();
                        let id = attr(&e, "portid").unwrap_or_default();
                        let n: u16 = id
                            .parse()
                            .map_err(|_| err(pos, format!("portid `{id}` is not a port")))?;
                        port = (proto == "tcp").then_some(PortReport {
                            port: n,
                            protocol: "tcp",
                            state: PortState::Open,
                            service: None,
                        });
                        port_open = false;
                    }
                    "state" if port.is_some() => {
                        let st = attr(&e, "state").unwrap_or_default();
                        port_open = st == "open";
                        if let Some(h) = host.as_mut() {
                            match st.as_str() {
                                "closed" => h.closed += 1,
                                "filtered" | "open|filtered" => h.filtered += 1,
                                _ => {}
                            }
                        }
                    }
                    "service" => {
                        if let Some(p) = port.as_mut() {
                            p.service = Some(ServiceReport {
                                name: attr(&e, "name"),
                                tunnel: attr(&e, "tunnel"),
                                product: attr(&e, "product"),
                                version: attr(&e, "version"),
                                info: attr(&e, "extrainfo"),
                                hostname: attr(&e, "hostname"),
                                os: attr(&e, "ostype"),
                                device: attr(&e, "devicetype"),
                                method: attr(&e, "method").unwrap_or_else(|| "table".into()),
                                probe: Some("nmap".into()),
                                ..Default::default()
                            });
                        }
                    }
                    "cpe" => in_cpe = port.is_some(),
                    _ => {}
                }
            }
            Event::Text(t) if in_cpe => {
                let text = t.xml10_content().trim().to_string();
                if let Some(s) = port.as_mut().and_then(|p| p.service.as_mut())
                    && !text.is_empty()
                {
                    s.cpes.push(text);
                }
            }
            Event::End(e) => match e.name().as_ref() {
                "cpe" => in_cpe = false,
                "port" => {
                    if let (Some(p), Some(h)) = (port.take(), host.as_mut())
                        && port_open
                    {
                        h.ports.push(p);
                    }
                }
                "host" => {
                    if let Some(h) = host.take()
                        && host_up
                    {
                        run.hosts.push(h);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    if !saw_root {
        return Err(ScanError::NmapXml(
            origin.into(),
            "no <nmaprun> element: not nmap XML".into(),
        ));
    }
    run.scanned_ports.sort_unstable();
    run.scanned_ports.dedup();
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -sV -oX - 127.0.0.1" start="1700000000" version="7.93" xmloutputversion="1.05">
<scaninfo type="connect" protocol="tcp" numservices="6" services="20-22,443,8080,9000"/>
<host starttime="1700000000" endtime="1700000010"><status state="up" reason="localhost-response" reason_ttl="0"/>
<address addr="127.0.0.1" addrtype="ipv4"/>
<hostnames><hostname name="localhost" type="user"/></hostnames>
<ports><extraports state="closed" count="997"><extrareasons reason="conn-refused" count="997"/></extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="0"/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2+deb12u3" extrainfo="protocol 2.0" ostype="Linux" method="probed" conf="10"><cpe>cpe:/a:openbsd:openssh:9.2p1</cpe><cpe>cpe:/o:linux:linux_kernel</cpe></service></port>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="0"/><service name="http" product="nginx" tunnel="ssl" method="probed" conf="10"/></port>
<port protocol="tcp" portid="8080"><state state="filtered" reason="no-response" reason_ttl="0"/></port>
</ports></host>
<host><status state="down" reason="no-response"/><address addr="127.0.0.9" addrtype="ipv4"/></host>
</nmaprun>"#;

    #[test]
    fn reads_hosts_ports_and_services() {
        let run = parse(XML, "t.xml").unwrap();
        assert_eq!(run.version, "7.93");
        assert_eq!(run.scanned_ports, vec![20, 21, 22, 443, 8080, 9000]);
        assert_eq!(run.hosts.len(), 1);
        let h = &run.hosts[0];
        assert_eq!(h.ip.to_string(), "127.0.0.1");
        assert_eq!(h.hostname.as_deref(), Some("localhost"));
        assert_eq!((h.closed, h.filtered), (997, 1));
        let ports: Vec<u16> = h.ports.iter().map(|p| p.port).collect();
        assert_eq!(ports, vec![22, 443]);
        let ssh = h.ports[0].service.as_ref().unwrap();
        assert_eq!(ssh.product.as_deref(), Some("OpenSSH"));
        assert_eq!(ssh.cpes.len(), 2);
        assert_eq!(
            h.ports[1].service.as_ref().unwrap().tunnel.as_deref(),
            Some("ssl")
        );
    }

    #[test]
    fn malformed_files_are_refused() {
        assert!(
            parse("<html></html>", "x")
                .unwrap_err()
                .to_string()
                .contains("nmaprun")
        );
        let broken = XML.replace("</ports>", "");
        let e = parse(&broken, "b.xml").unwrap_err().to_string();
        assert!(e.contains("b.xml"), "{e}");
        let bad_port = XML.replace("portid=\"22\"", "portid=\"x\"");
        assert!(
            parse(&bad_port, "p.xml")
                .unwrap_err()
                .to_string()
                .contains("portid")
        );
    }
}
