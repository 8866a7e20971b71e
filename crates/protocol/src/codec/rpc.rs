//! RPC over HTTP (Outlook Anywhere, `/rpc/rpcproxy.dll`): the bytes of the `RPC_OUT_DATA`
//! channel that carry the mailbox server's answer to Outlook, as `application/rpc`.
//!
//! The stream is a sequence of connection-oriented DCE/RPC PDUs ([C706] 12.6), each with
//! the 16-byte common header: `rpc_vers` 5, `rpc_vers_minor` 0, `PTYPE`, `pfc_flags`
//! (`PFC_FIRST_FRAG | PFC_LAST_FRAG`), `packed_drep` `10 00 00 00` (little-endian, ASCII,
//! IEEE), `frag_length`, `auth_length` 0, `call_id`:
//!
//! 1. an RTS PDU (`PTYPE` 20, [MS-RPCH] 2.2.3.6: `Flags` 0, `NumberOfCommands`, then the
//!    commands) that is `CONN/C2` (2.2.4.6): `Version` 1, `ReceiveWindowSize` 65536,
//!    `ConnectionTimeout` 120000 ms, the proxy's answer that opens the channel;
//! 2. a `response` PDU (`PTYPE` 2, [C706] 12.6.4.10: `alloc_hint`, `p_cont_id`,
//!    `cancel_count`, a reserved byte, then the stub data) of the `EcDoRpcExt2` call
//!    ([MS-OXCRPC] 3.1.4.2), or a `fault` PDU (`PTYPE` 3) whose `status` says why not.
//!
//! **Simplified** (like [`super::mapi`]): the stub data is not the NDR encoding of
//! `EcDoRpcExt2`'s output parameters but `cbOut` (u32), the `rgbOut` of
//! [`super::mapi::rop_buffer`] (one `RopQueryRows` response of the Inbox's rows) and the
//! call's return value (u32, 0); the `RPC_IN_DATA` channel, the bind, `EcDoConnectEx`
//! and the request PDUs are not modelled, and the exchange is one HTTP request and its
//! answer. A response with at least one row carries mailbox content
//! ([`super::carries_mailbox`]).

use super::mapi::{read_rop_buffer, rop_buffer};
use super::{ContentType, DecodeError, Encoded, MailItem};

/// `application/rpc`.
pub const MEDIA_TYPE: &str = "application/rpc";
/// `PTYPE` of a response PDU.
pub const PTYPE_RESPONSE: u8 = 2;
/// `PTYPE` of a fault PDU.
pub const PTYPE_FAULT: u8 = 3;
/// `PTYPE` of an RTS PDU ([MS-RPCH] 2.2.3.6.1).
pub const PTYPE_RTS: u8 = 20;
/// `PFC_FIRST_FRAG | PFC_LAST_FRAG`.
const FIRST_LAST: u8 = 0x03;
/// `packed_drep` of little-endian integers, ASCII characters, IEEE floats.
const DREP: [u8; 4] = [0x10, 0, 0, 0];
/// The RTS commands of `CONN/C2`: `Version` (6) 1, `ReceiveWindowSize` (0) 65536,
/// `ConnectionTimeout` (2) 120000.
const CONN_C2: [(u32, u32); 3] = [(6, 1), (0, 65_536), (2, 120_000)];

const F: &str = "RPC over HTTP stream";

/// What the `RPC_OUT_DATA` channel carries back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutStream {
    /// The `call_id` of the response (or fault) PDU.
    pub call_id: u32,
    /// The answer: the Inbox's rows, or a fault's `status`.
    pub answer: Result<Vec<MailItem>, u32>,
}

fn header(ptype: u8, frag_length: u16, call_id: u32) -> Vec<u8> {
    let mut h = vec![5, 0, ptype, FIRST_LAST];
    h.extend_from_slice(&DREP);
    h.extend_from_slice(&frag_length.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // auth_length
    h.extend_from_slice(&call_id.to_le_bytes());
    h
}

impl OutStream {
    /// A successful answer of `rows`.
    pub fn rows(call_id: u32, rows: Vec<MailItem>) -> OutStream {
        OutStream {
            call_id,
            answer: Ok(rows),
        }
    }

    /// The stream's bytes (`application/rpc`). Rows that would make the PDU exceed a
    /// fragment's 65,535 bytes are left out (the model sends one fragment).
    pub fn encode(&self) -> Encoded {
        let rts_len = 16 + 4 + CONN_C2.len() * 8;
        let mut b = header(PTYPE_RTS, rts_len as u16, 0);
        b.extend_from_slice(&0u16.to_le_bytes()); // Flags: RTS_FLAG_NONE
        b.extend_from_slice(&(CONN_C2.len() as u16).to_le_bytes());
        for (command, value) in CONN_C2 {
            b.extend_from_slice(&command.to_le_bytes());
            b.extend_from_slice(&value.to_le_bytes());
        }
        match &self.answer {
            Ok(rows) => {
                let mut n = rows.len();
                let stub = loop {
                    let out = rop_buffer(&rows[..n]);
                    let mut stub = (out.len() as u32).to_le_bytes().to_vec();
                    stub.extend_from_slice(&out);
                    stub.extend_from_slice(&0u32.to_le_bytes()); // return value
                    if stub.len() + 24 <= usize::from(u16::MAX) || n == 0 {
                        break stub;
                    }
                    n -= 1;
                };
                b.extend_from_slice(&header(
                    PTYPE_RESPONSE,
                    (24 + stub.len()) as u16,
                    self.call_id,
                ));
                b.extend_from_slice(&(stub.len() as u32).to_le_bytes()); // alloc_hint
                b.extend_from_slice(&[0, 0, 0, 0]); // p_cont_id, cancel_count, reserved
                b.extend_from_slice(&stub);
            }
            Err(status) => {
                b.extend_from_slice(&header(PTYPE_FAULT, 32, self.call_id));
                b.extend_from_slice(&0u32.to_le_bytes()); // alloc_hint
                b.extend_from_slice(&[0, 0, 0, 0]); // p_cont_id, cancel_count, reserved
                b.extend_from_slice(&status.to_le_bytes());
                b.extend_from_slice(&0u32.to_le_bytes()); // reserved
            }
        }
        Encoded::new(ContentType::Rpc, b)
    }

    /// Reads a stream: the `CONN/C2` RTS PDU, then one response or fault PDU and nothing
    /// after it. Any other PDU, version, byte order, fragment, length or command is
    /// refused.
    pub fn decode(bytes: &[u8]) -> Result<OutStream, DecodeError> {
        let bad = |d: &str| DecodeError::new(F, d);
        let mut rest = bytes;
        let mut pdu = || -> Result<(u8, u32, &[u8]), DecodeError> {
            if rest.len() < 16 {
                return Err(bad("a PDU shorter than its common header"));
            }
            if rest[0] != 5 || rest[1] != 0 {
                return Err(bad("not DCE/RPC version 5.0"));
            }
            if rest[3] != FIRST_LAST {
                return Err(bad("a fragmented PDU is not supported"));
            }
            if rest[4..8] != DREP {
                return Err(bad("not little-endian ASCII data representation"));
            }
            let frag = usize::from(u16::from_le_bytes([rest[8], rest[9]]));
            if u16::from_le_bytes([rest[10], rest[11]]) != 0 {
                return Err(bad("an authenticated PDU is not supported"));
            }
            if frag < 16 || frag > rest.len() {
                return Err(bad("a frag_length past the end"));
            }
            let call_id = u32::from_le_bytes([rest[12], rest[13], rest[14], rest[15]]);
            let (p, tail) = rest.split_at(frag);
            rest = tail;
            Ok((p[2], call_id, &p[16..]))
        };
        let (ptype, _, rts) = pdu()?;
        let expected: Vec<u8> = [0u16, CONN_C2.len() as u16]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .chain(
                CONN_C2
                    .iter()
                    .flat_map(|(c, v)| c.to_le_bytes().into_iter().chain(v.to_le_bytes())),
            )
            .collect();
        if ptype != PTYPE_RTS || rts != expected {
            return Err(bad("the channel does not open with CONN/C2"));
        }
        let (ptype, call_id, body) = pdu()?;
        if !rest.is_empty() {
            return Err(bad("bytes after the response PDU"));
        }
        if body.len() < 8 {
            return Err(bad("a PDU shorter than its header"));
        }
        let word = |b: &[u8], at: usize| -> Result<u32, DecodeError> {
            b.get(at..at + 4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .ok_or_else(|| bad("a length past the end"))
        };
        let stub = &body[8..];
        match ptype {
            PTYPE_RESPONSE => {
                if word(body, 0)? as usize != stub.len() {
                    return Err(bad("alloc_hint is not the stub's length"));
                }
                let cb_out = word(stub, 0)? as usize;
                let out = stub
                    .get(4..4 + cb_out)
                    .ok_or_else(|| bad("cbOut past the end"))?;
                if stub.len() != 4 + cb_out + 4 {
                    return Err(bad("the stub is not cbOut, rgbOut and a return value"));
                }
                let rv = word(stub, 4 + cb_out)?;
                if rv != 0 {
                    return Err(bad(&format!("EcDoRpcExt2 returned 0x{rv:08X}")));
                }
                Ok(OutStream::rows(call_id, read_rop_buffer(out, F)?))
            }
            PTYPE_FAULT => {
                if stub.len() != 8 {
                    return Err(bad("a fault PDU of the wrong length"));
                }
                Ok(OutStream {
                    call_id,
                    answer: Err(word(stub, 0)?),
                })
            }
            p => Err(bad(&format!("an unexpected PDU type {p}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::carries_mailbox;

    fn rows() -> Vec<MailItem> {
        MailItem::sample("u@contoso.com", 1_767_225_600)
    }

    #[test]
    fn the_stream_opens_with_conn_c2_and_carries_the_rows() {
        let s = OutStream::rows(7, rows());
        let e = s.encode();
        assert_eq!(e.content_type, ContentType::Rpc);
        assert_eq!(e.content_type.as_str(), "application/rpc");
        // CONN/C2: version 5.0, RTS, first|last, little-endian, 44 bytes, 3 commands.
        assert_eq!(&e.bytes[..10], &[5, 0, 20, 3, 0x10, 0, 0, 0, 44, 0]);
        assert_eq!(&e.bytes[16..24], &[0, 0, 3, 0, 6, 0, 0, 0]);
        // Then the response PDU of call 7.
        assert_eq!(&e.bytes[44..48], &[5, 0, PTYPE_RESPONSE, 3]);
        assert_eq!(&e.bytes[56..60], &7u32.to_le_bytes());
        assert_eq!(OutStream::decode(&e.bytes).unwrap(), s);
        assert!(carries_mailbox(e.content_type, &e.bytes));
        let empty = OutStream::rows(1, vec![]).encode();
        assert!(!carries_mailbox(empty.content_type, &empty.bytes));
        let fault = OutStream {
            call_id: 3,
            answer: Err(0x1C01_0003),
        };
        let fe = fault.encode();
        assert_eq!(OutStream::decode(&fe.bytes).unwrap(), fault);
        assert!(!carries_mailbox(fe.content_type, &fe.bytes));
    }

    #[test]
    fn malformed_streams_are_refused() {
        let good = OutStream::rows(7, rows()).encode().bytes;
        for n in [0, 15, 16, 44, 60, good.len() / 2, good.len() - 1] {
            assert!(OutStream::decode(&good[..n]).is_err(), "{n}");
        }
        let mut extra = good.to_vec();
        extra.push(0);
        assert!(OutStream::decode(&extra).is_err());
        for (at, v) in [(0, 4), (3, 1), (4, 0), (44 + 2, 9), (2, 2)] {
            let mut b = good.to_vec();
            b[at] = v;
            assert!(OutStream::decode(&b).is_err(), "{at}");
            assert!(!carries_mailbox(ContentType::Rpc, &b));
        }
    }
}
