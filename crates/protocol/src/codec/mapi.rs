//! MAPI over HTTP ([MS-OXCMAPIHTTP]): the answer to an `Execute` request on the
//! `/mapi/emsmdb/` endpoint, as a non-chunked response (section 2.2.2.2): the text
//! meta-tags `PROCESSING` and `DONE`, the additional headers `X-ResponseCode`,
//! `X-ElapsedTime` and `X-StartTime`, an empty line, then the binary `Execute` response
//! body (section 2.2.4.2.2: `StatusCode`, `ErrorCode`, `Flags`, `RopBufferSize`,
//! `RopBuffer`, `AuxiliaryBufferSize`, `AuxiliaryBuffer`, little-endian).
//!
//! **Simplification.** The `RopBuffer` is an `rgbOut` of [MS-OXCRPC] (an `RPC_HEADER_EXT`
//! with the `Last` flag, then the ROP output buffer of [MS-OXCROPS] 2.2.1: `RopSize`, the
//! ROP responses, the server object handle table) holding one ROP response only: a
//! `RopQueryRows` response (`0x15`, [MS-OXCROPS] 2.2.5.4.2) on the Inbox's contents
//! table, whose rows are standard property rows ([MS-OXCDATA] 2.8.1.1) of the four
//! columns [`COLUMNS`] a `RopSetColumns` the model does not send would have set. The
//! `RopLogon`, `RopOpenFolder`, `RopGetContentsTable` and `RopSetColumns` a real session
//! issues first are not modelled; the rows are what tells that mail arrived.

use super::{ContentType, DecodeError, Encoded, MailItem};

/// `application/mapi-http`.
pub const MEDIA_TYPE: &str = "application/mapi-http";
/// `RopQueryRows`.
pub const ROP_QUERY_ROWS: u8 = 0x15;
/// The columns of each row, in order: `PidTagMid` (`PtypInteger64`), `PidTagSubject`,
/// `PidTagSenderEmailAddress` (`PtypString`, UTF-16LE with a terminating NUL) and
/// `PidTagMessageDeliveryTime` (`PtypTime`, a FILETIME) ([MS-OXPROPS]).
pub const COLUMNS: [u32; 4] = [0x674A_0014, 0x0037_001F, 0x0C1F_001F, 0x0E06_0040];
/// Seconds from the FILETIME epoch (1601-01-01) to the Unix epoch.
const FILETIME_UNIX: u64 = 11_644_473_600;
/// The `RPC_HEADER_EXT` flag `Last` ([MS-OXCRPC] 2.2.2.1).
const LAST: u16 = 0x0004;

/// The `Execute` answer: the rows of the Inbox's contents table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecuteResponse {
    /// `X-StartTime`, Unix seconds.
    pub start_unix: u64,
    /// The rows. An item's `id` is its `PidTagMid` in 16 hexadecimal digits (an id that
    /// is not hexadecimal is written as its FNV-1a hash).
    pub rows: Vec<MailItem>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    for u in s.encode_utf16().filter(|&u| u != 0) {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out.extend_from_slice(&[0, 0]);
}

fn mid(id: &str) -> u64 {
    u64::from_str_radix(id, 16).unwrap_or_else(|_| {
        id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    })
}

/// FILETIME (100 ns since 1601) of an ISO 8601 `YYYY-MM-DDThh:mm:ssZ` time (0 when it
/// is not one).
fn filetime(iso: &str) -> u64 {
    super::parse_iso8601(iso)
        .map(|u| (u + FILETIME_UNIX) * 10_000_000)
        .unwrap_or(0)
}

impl ExecuteResponse {
    /// The response body, meta-tags and additional headers first.
    pub fn encode(&self) -> Encoded {
        let rop_buffer = rop_buffer(&self.rows);
        let mut b = format!(
            "PROCESSING\r\nDONE\r\nX-ResponseCode: 0\r\nX-ElapsedTime: 0\r\nX-StartTime: {}\r\n\r\n",
            super::http_date(self.start_unix)
        )
        .into_bytes();
        b.extend_from_slice(&0u32.to_le_bytes()); // StatusCode
        b.extend_from_slice(&0u32.to_le_bytes()); // ErrorCode
        b.extend_from_slice(&0u32.to_le_bytes()); // Flags
        b.extend_from_slice(&(rop_buffer.len() as u32).to_le_bytes());
        b.extend_from_slice(&rop_buffer);
        b.extend_from_slice(&0u32.to_le_bytes()); // AuxiliaryBufferSize
        Encoded::new(ContentType::MapiHttp, b)
    }

    /// Reads a response body: the meta-tags up to `DONE`, the additional headers (an
    /// `X-ResponseCode` other than 0 is the server's failure), then an `Execute` body
    /// with `StatusCode` and `ErrorCode` 0 and a `RopQueryRows` response.
    pub fn decode(bytes: &[u8]) -> Result<ExecuteResponse, DecodeError> {
        const F: &str = "MAPI/HTTP Execute response";
        let bad = |d: &str| DecodeError::new(F, d);
        let mut at = 0;
        let mut line = || -> Result<&str, DecodeError> {
            let rest = &bytes[at..];
            let n = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("a meta-tag or header line without CRLF"))?;
            at += n + 2;
            std::str::from_utf8(&rest[..n]).map_err(|_| bad("a header line that is not text"))
        };
        let mut done = false;
        while !done {
            match line()? {
                "PROCESSING" | "PENDING" => {}
                "DONE" => done = true,
                other => return Err(bad(&format!("unexpected meta-tag {other:?}"))),
            }
        }
        let mut start_unix = None;
        loop {
            let l = line()?;
            if l.is_empty() {
                break;
            }
            let (name, value) = l
                .split_once(':')
                .ok_or_else(|| bad("an additional header without a colon"))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("X-ResponseCode") && value != "0" {
                return Err(bad(&format!("X-ResponseCode {value}")));
            }
            if name.eq_ignore_ascii_case("X-StartTime") {
                start_unix = super::parse_http_date(value);
            }
        }
        let start_unix = start_unix.ok_or_else(|| bad("no X-StartTime"))?;
        let mut r = Reader {
            f: F,
            b: &bytes[at..],
        };
        let status = r.u32()?;
        let error = r.u32()?;
        if status != 0 || error != 0 {
            return Err(bad(&format!(
                "StatusCode {status}, ErrorCode 0x{error:08X}"
            )));
        }
        let _flags = r.u32()?;
        let rop_len = r.u32()? as usize;
        let rop_buffer = r.take(rop_len)?;
        let aux = r.u32()? as usize;
        r.take(aux)?;
        if !r.b.is_empty() {
            return Err(bad("bytes after the auxiliary buffer"));
        }
        let rows = read_rop_buffer(rop_buffer, F)?;
        Ok(ExecuteResponse { start_unix, rows })
    }
}

/// The `rgbOut` of [MS-OXCRPC] holding one `RopQueryRows` response of `rows`: an
/// `RPC_HEADER_EXT` (version 0, flag `Last`, not compressed), the ROP output buffer
/// (`RopSize`, the response, the server object handle table). MAPI over HTTP carries it
/// as the `Execute` response's `RopBuffer`; RPC over HTTP ([`super::rpc`]) as
/// `EcDoRpcExt2`'s `rgbOut`.
pub fn rop_buffer(rows: &[MailItem]) -> Vec<u8> {
    let mut rops = vec![ROP_QUERY_ROWS, 0x00];
    rops.extend_from_slice(&0u32.to_le_bytes()); // ReturnValue: success
    rops.push(0x02); // Origin: BOOKMARK_END, every row read
    rops.extend_from_slice(&(rows.len().min(u16::MAX as usize) as u16).to_le_bytes());
    for r in rows.iter().take(u16::MAX as usize) {
        rops.push(0x00); // StandardPropertyRow
        rops.extend_from_slice(&mid(&r.id).to_le_bytes());
        put_str(&mut rops, &r.subject);
        put_str(&mut rops, &r.from);
        rops.extend_from_slice(&filetime(&r.received).to_le_bytes());
    }
    // RopSize counts itself; the handle table follows the ROPs.
    let mut out_buf = ((rops.len() + 2) as u16).to_le_bytes().to_vec();
    out_buf.extend_from_slice(&rops);
    out_buf.extend_from_slice(&0x0000_0001u32.to_le_bytes()); // the contents table
    let mut rop_buffer = Vec::with_capacity(out_buf.len() + 8);
    rop_buffer.extend_from_slice(&0u16.to_le_bytes()); // Version
    rop_buffer.extend_from_slice(&LAST.to_le_bytes());
    let size = out_buf.len() as u16;
    rop_buffer.extend_from_slice(&size.to_le_bytes()); // Size
    rop_buffer.extend_from_slice(&size.to_le_bytes()); // SizeActual: not compressed
    rop_buffer.extend_from_slice(&out_buf);
    rop_buffer
}

/// Reads an `rgbOut` written by [`rop_buffer`]: its rows; `format` names the answer it
/// came in, for the error.
pub fn read_rop_buffer(
    rop_buffer: &[u8],
    format: &'static str,
) -> Result<Vec<MailItem>, DecodeError> {
    let bad = |d: &str| DecodeError::new(format, d);
    let mut rb = Reader {
        f: format,
        b: rop_buffer,
    };
    let _version = rb.u16()?;
    let flags = rb.u16()?;
    let size = rb.u16()? as usize;
    let actual = rb.u16()? as usize;
    if flags & 0x0001 != 0 || size != actual {
        return Err(bad(
            "a compressed or obfuscated RPC payload is not supported",
        ));
    }
    let mut out = Reader {
        f: format,
        b: rb.take(size)?,
    };
    let rop_size = out.u16()? as usize;
    let mut rops = Reader {
        f: format,
        b: out.take(
            rop_size
                .checked_sub(2)
                .ok_or_else(|| bad("RopSize below 2"))?,
        )?,
    };
    if rops.u8()? != ROP_QUERY_ROWS {
        return Err(bad("not a RopQueryRows response"));
    }
    let _handle = rops.u8()?;
    let rv = rops.u32()?;
    if rv != 0 {
        return Err(bad(&format!("RopQueryRows ReturnValue 0x{rv:08X}")));
    }
    let _origin = rops.u8()?;
    let count = rops.u16()?;
    let mut rows = Vec::with_capacity(usize::from(count).min(1024));
    for _ in 0..count {
        if rops.u8()? != 0 {
            return Err(bad("a flagged property row is not supported"));
        }
        let mid = rops.u64()?;
        let subject = rops.string()?;
        let from = rops.string()?;
        let ft = rops.u64()?;
        rows.push(MailItem {
            id: format!("{mid:016X}"),
            subject,
            from,
            received: super::iso8601((ft / 10_000_000).saturating_sub(FILETIME_UNIX)),
        });
    }
    if !rops.b.is_empty() {
        return Err(bad("bytes after the rows"));
    }
    Ok(rows)
}

struct Reader<'a> {
    f: &'static str,
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.b.len() {
            return Err(DecodeError::new(self.f, "a length past the end"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        let mut units = Vec::new();
        loop {
            match self.u16()? {
                0 => break,
                u => units.push(u),
            }
        }
        String::from_utf16(&units)
            .map_err(|_| DecodeError::new(self.f, "a string that is not UTF-16"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::carries_mailbox;

    fn rows() -> Vec<MailItem> {
        vec![
            MailItem {
                id: "0001000000000A01".into(),
                subject: "Héllo, 世界".into(),
                from: "a@contoso.com".into(),
                received: "2026-01-01T10:30:00Z".into(),
            },
            MailItem {
                id: "0001000000000A02".into(),
                subject: String::new(),
                from: "b@contoso.com".into(),
                received: "2026-03-01T00:00:01Z".into(),
            },
        ]
    }

    #[test]
    fn an_execute_response_round_trips_and_carries_mailbox_content() {
        let r = ExecuteResponse {
            start_unix: 1_767_225_600,
            rows: rows(),
        };
        let e = r.encode();
        assert_eq!(e.content_type, ContentType::MapiHttp);
        assert!(e.bytes.starts_with(
            b"PROCESSING\r\nDONE\r\nX-ResponseCode: 0\r\nX-ElapsedTime: 0\r\nX-StartTime: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n"
        ));
        assert_eq!(ExecuteResponse::decode(&e.bytes).unwrap(), r);
        assert!(carries_mailbox(e.content_type, &e.bytes));
        let empty = ExecuteResponse {
            start_unix: 0,
            rows: vec![],
        }
        .encode();
        assert!(!carries_mailbox(empty.content_type, &empty.bytes));
    }

    #[test]
    fn the_binary_part_is_the_execute_body_of_ms_oxcmapihttp() {
        let e = ExecuteResponse {
            start_unix: 1_767_225_600,
            rows: rows()[..1].to_vec(),
        }
        .encode();
        let at = e.bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body = &e.bytes[at..];
        // StatusCode, ErrorCode, Flags: 0.
        assert_eq!(&body[..12], &[0; 12]);
        let rop_len = u32::from_le_bytes(body[12..16].try_into().unwrap()) as usize;
        let rb = &body[16..16 + rop_len];
        // RPC_HEADER_EXT: version 0, flags Last, Size = SizeActual.
        assert_eq!(&rb[..4], &[0, 0, 4, 0]);
        assert_eq!(rb[4..6], rb[6..8]);
        // RopSize, then RopQueryRows with InputHandleIndex 0 and ReturnValue 0.
        assert_eq!(&rb[10..16], &[ROP_QUERY_ROWS, 0, 0, 0, 0, 0]);
        // The auxiliary buffer is empty and ends the body.
        assert_eq!(&body[16 + rop_len..], &[0, 0, 0, 0]);
    }

    #[test]
    fn malformed_answers_are_refused() {
        let good = ExecuteResponse {
            start_unix: 1_767_225_600,
            rows: rows(),
        }
        .encode()
        .bytes;
        for n in [0, 5, 11, good.len() / 2, good.len() - 1] {
            assert!(ExecuteResponse::decode(&good[..n]).is_err(), "{n}");
        }
        let failed =
            String::from_utf8_lossy(&good).replace("X-ResponseCode: 0", "X-ResponseCode: 9");
        assert!(ExecuteResponse::decode(failed.as_bytes()).is_err());
        assert!(ExecuteResponse::decode(b"HELLO\r\n").is_err());
        let mut extra = good.to_vec();
        extra.push(0);
        assert!(ExecuteResponse::decode(&extra).is_err());
        assert!(!carries_mailbox(
            ContentType::MapiHttp,
            b"PROCESSING\r\nDONE\r\n\r\n"
        ));
    }
}
