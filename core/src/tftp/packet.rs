//! TFTP packets (RFC 1350) with option extensions (RFC 2347): what a server reads (read and
//! write requests, acknowledgements, errors) and what it writes (data, option
//! acknowledgements, errors).

pub const RRQ: u16 = 1;
pub const WRQ: u16 = 2;
pub const DATA: u16 = 3;
pub const ACK: u16 = 4;
pub const ERROR: u16 = 5;
pub const OACK: u16 = 6;

/// The error codes of RFC 1350 and RFC 2347.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    NotDefined = 0,
    FileNotFound = 1,
    AccessViolation = 2,
    IllegalOperation = 4,
    UnknownTransfer = 5,
    OptionsRefused = 8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Octet,
    Netascii,
}

/// A request to read or write a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub write: bool,
    pub name: Vec<u8>,
    pub mode: Mode,
    /// Options as sent: names in lower case, values as given.
    pub options: Vec<(String, Vec<u8>)>,
}

/// A packet a server receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    Request(Request),
    Ack(u16),
    Error(u16),
    /// Anything else a server does not take (DATA, OACK), or a malformed packet.
    Other,
}

/// Why a request cannot be read: answered with an error packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Not even an opcode: nothing is answered.
    Garbage,
    /// A mode other than octet and netascii ("mail" included).
    Mode,
    /// Fields not terminated, or options not in pairs.
    Fields,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Reads a packet a server receives; Err for a request it cannot read.
pub fn parse(packet: &[u8]) -> Result<Incoming, Malformed> {
    let Some(op) = u16_at(packet, 0) else {
        return Err(Malformed::Garbage);
    };
    match op {
        RRQ | WRQ => parse_request(op == WRQ, &packet[2..]).map(Incoming::Request),
        ACK => Ok(u16_at(packet, 2).map_or(Incoming::Other, Incoming::Ack)),
        ERROR => Ok(u16_at(packet, 2).map_or(Incoming::Other, Incoming::Error)),
        _ => Ok(Incoming::Other),
    }
}

fn parse_request(write: bool, body: &[u8]) -> Result<Request, Malformed> {
    // Every field ends with a NUL: the last byte must be one.
    if body.last() != Some(&0) {
        return Err(Malformed::Fields);
    }
    let mut fields = body[..body.len() - 1].split(|&b| b == 0);
    let name = fields.next().ok_or(Malformed::Fields)?.to_vec();
    let mode = match &fields.next().ok_or(Malformed::Fields)?.to_ascii_lowercase()[..] {
        b"octet" => Mode::Octet,
        b"netascii" => Mode::Netascii,
        _ => return Err(Malformed::Mode),
    };
    let mut options = Vec::new();
    while let Some(key) = fields.next() {
        let value = fields.next().ok_or(Malformed::Fields)?;
        let key = String::from_utf8_lossy(key).to_ascii_lowercase();
        options.push((key, value.to_vec()));
    }
    Ok(Request {
        write,
        name,
        mode,
        options,
    })
}

/// A DATA packet.
pub fn data(block: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(4 + payload.len());
    p.extend_from_slice(&DATA.to_be_bytes());
    p.extend_from_slice(&block.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An OACK packet naming the options taken, with their values.
pub fn oack(options: &[(&str, String)]) -> Vec<u8> {
    let mut p = OACK.to_be_bytes().to_vec();
    for (k, v) in options {
        p.extend_from_slice(k.as_bytes());
        p.push(0);
        p.extend_from_slice(v.as_bytes());
        p.push(0);
    }
    p
}

/// An ERROR packet.
pub fn error(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut p = ERROR.to_be_bytes().to_vec();
    p.extend_from_slice(&(code as u16).to_be_bytes());
    p.extend_from_slice(message.as_bytes());
    p.push(0);
    p
}

/// An ACK packet (what a client sends: for tests and the bench's client).
pub fn ack(block: u16) -> Vec<u8> {
    let mut p = ACK.to_be_bytes().to_vec();
    p.extend_from_slice(&block.to_be_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_with_and_without_options() {
        let rrq = b"\x00\x01/fw.bin\x00OCTET\x00blksize\x001428\x00TSize\x000\x00";
        assert_eq!(
            parse(rrq),
            Ok(Incoming::Request(Request {
                write: false,
                name: b"/fw.bin".to_vec(),
                mode: Mode::Octet,
                options: vec![
                    ("blksize".into(), b"1428".to_vec()),
                    ("tsize".into(), b"0".to_vec())
                ],
            }))
        );
        let wrq = b"\x00\x02a.cfg\x00netascii\x00";
        match parse(wrq) {
            Ok(Incoming::Request(r)) => assert!(r.write && r.mode == Mode::Netascii),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_requests() {
        assert_eq!(parse(b"\x00"), Err(Malformed::Garbage));
        assert_eq!(parse(b"\x00\x01a\x00octet"), Err(Malformed::Fields));
        assert_eq!(parse(b"\x00\x01a\x00"), Err(Malformed::Fields));
        assert_eq!(parse(b"\x00\x01a\x00mail\x00"), Err(Malformed::Mode));
        assert_eq!(
            parse(b"\x00\x01a\x00octet\x00blksize\x00"),
            Err(Malformed::Fields)
        );
        assert_eq!(parse(b"\x00\x04\x00"), Ok(Incoming::Other));
        assert_eq!(parse(b"\x00\x03\x00\x01x"), Ok(Incoming::Other));
    }

    #[test]
    fn packets_written() {
        assert_eq!(parse(&ack(7)), Ok(Incoming::Ack(7)));
        assert_eq!(data(2, b"ab"), b"\x00\x03\x00\x02ab");
        assert_eq!(
            oack(&[("tsize", "12".into())]),
            b"\x00\x06tsize\x0012\x00".to_vec()
        );
        assert_eq!(
            error(ErrorCode::AccessViolation, "no"),
            b"\x00\x05\x00\x02no\x00".to_vec()
        );
    }
}
