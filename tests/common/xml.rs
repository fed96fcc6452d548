//! Reading the XML bodies the module serves.

use quick_xml::events::Event;

/// Every element text and attribute value of an XML body, entities resolved.
pub fn strings(xml: &str) -> Vec<String> {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut out = vec![String::new()];
    loop {
        match r.read_event().expect("well-formed") {
            Event::Start(e) | Event::Empty(e) => {
                for a in e.attributes() {
                    out.push(
                        a.expect("attribute")
                            .unescape_value()
                            .expect("value")
                            .into_owned(),
                    );
                }
                out.push(String::new());
            }
            Event::Text(t) => out
                .last_mut()
                .expect("one")
                .push_str(&t.decode().expect("text")),
            Event::GeneralRef(g) => {
                let c = match &*g.decode().expect("entity") {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("entity {other}"),
                };
                out.last_mut().expect("one").push_str(c);
            }
            Event::End(_) => out.push(String::new()),
            Event::Eof => break,
            _ => {}
        }
    }
    out
}
