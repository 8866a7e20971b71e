//! ActiveSync's WBXML (WAP Binary XML 1.3 as MS-ASWBXML profiles it) for the commands
//! modelled: `Provision`, `FolderSync` and `Sync`, request and response. A document is
//! the header (version `0x03`, public id `0x01`, charset `0x6A` UTF-8, a string table),
//! then tokens: `SWITCH_PAGE`, tags (with the content flag `0x40`), `END`, `STR_I`,
//! `STR_T` (a string of the table), `ENTITY` and `OPAQUE`. Only the tags of the code
//! pages below are known: AirSync (0), Email (2), FolderHierarchy (7), Provision (14).

use std::borrow::Cow;

use super::{ContentType, DecodeError, Encoded, MailItem, Refusal, WireError};

/// Nesting deeper than this is refused.
pub const MAX_DEPTH: usize = 32;
/// The largest document read.
pub const MAX_BYTES: usize = 1 << 20;

const SWITCH_PAGE: u8 = 0x00;
const END: u8 = 0x01;
const ENTITY: u8 = 0x02;
const STR_I: u8 = 0x03;
const STR_T: u8 = 0x83;
const OPAQUE: u8 = 0xC3;
const CONTENT: u8 = 0x40;
const ATTRIBUTES: u8 = 0x80;

/// The code pages and tags known, `(page, token, name)` (MS-ASWBXML section 2.1.2.1).
const TAGS: &[(u8, u8, &str)] = &[
    (0, 0x05, "Sync"),
    (0, 0x07, "Add"),
    (0, 0x0B, "SyncKey"),
    (0, 0x0D, "ServerId"),
    (0, 0x0E, "Status"),
    (0, 0x0F, "Collection"),
    (0, 0x12, "CollectionId"),
    (0, 0x13, "GetChanges"),
    (0, 0x15, "WindowSize"),
    (0, 0x16, "Commands"),
    (0, 0x1C, "Collections"),
    (0, 0x1D, "ApplicationData"),
    (2, 0x0F, "DateReceived"),
    (2, 0x14, "Subject"),
    (2, 0x18, "From"),
    (7, 0x07, "DisplayName"),
    (7, 0x08, "ServerId"),
    (7, 0x09, "ParentId"),
    (7, 0x0A, "Type"),
    (7, 0x0C, "Status"),
    (7, 0x0E, "Changes"),
    (7, 0x0F, "Add"),
    (7, 0x12, "SyncKey"),
    (7, 0x16, "FolderSync"),
    (7, 0x17, "Count"),
    (14, 0x05, "Provision"),
    (14, 0x06, "Policies"),
    (14, 0x07, "Policy"),
    (14, 0x08, "PolicyType"),
    (14, 0x09, "PolicyKey"),
    (14, 0x0B, "Status"),
];

/// A code page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// AirSync (0).
    AirSync = 0,
    /// Email (2).
    Email = 2,
    /// FolderHierarchy (7).
    FolderHierarchy = 7,
    /// Provision (14).
    Provision = 14,
}

/// A node of a WBXML document; a decoded one borrows its strings and opaque data from the
/// document's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node<'a> {
    /// An element: its code page, token and content.
    Element(u8, u8, Vec<Node<'a>>),
    /// A string.
    Text(Cow<'a, str>),
    /// Opaque bytes.
    Opaque(Cow<'a, [u8]>),
}

/// A tag of a code page: what the writer writes and the reader compares, a token looked
/// up in [`TAGS`] when the code is compiled ([`tag!`]), not per element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tag {
    page: u8,
    token: u8,
}

/// The [`Tag`] named `name` in `page` (a compile-time error when [`TAGS`] lacks it).
const fn tag_of(page: Page, name: &str) -> Tag {
    const fn same(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
    let mut i = 0;
    while i < TAGS.len() {
        let (p, t, n) = TAGS[i];
        if p == page as u8 && same(n, name) {
            return Tag { page: p, token: t };
        }
        i += 1;
    }
    panic!("a tag missing from TAGS")
}

/// The [`Tag`] of a code page and name, evaluated at compile time.
macro_rules! tag {
    ($page:ident, $name:literal) => {
        const { tag_of(Page::$page, $name) }
    };
}

#[cfg(test)]
fn token(page: Page, name: &str) -> u8 {
    TAGS.iter()
        .find(|(p, _, n)| *p == page as u8 && *n == name)
        .map(|(_, t, _)| *t)
        .unwrap_or_else(|| unreachable!("tag {name} is in the table"))
}

/// [`TAGS`] as one bit per token (bit `t` of `KNOWN[page]`), for the reader's check of
/// every element: a look-up, not a scan of the table.
const KNOWN: [u64; 256] = {
    let mut k = [0u64; 256];
    let mut i = 0;
    while i < TAGS.len() {
        let (p, t, _) = TAGS[i];
        k[p as usize] |= 1 << t;
        i += 1;
    }
    k
};

fn known(page: u8, tag: u8) -> bool {
    tag < 64 && KNOWN[usize::from(page)] & (1 << tag) != 0
}

#[cfg(test)]
fn el<'a>(page: Page, name: &str, children: Vec<Node<'a>>) -> Node<'a> {
    Node::Element(page as u8, token(page, name), children)
}

#[cfg(test)]
fn text_el<'a>(page: Page, name: &str, text: &'a str) -> Node<'a> {
    el(page, name, vec![Node::Text(Cow::Borrowed(text))])
}

/// Encodes a document whose root is `root`.
pub fn encode_node(root: &Node<'_>) -> Vec<u8> {
    let mut out = vec![0x03, 0x01, 0x6A, 0x00];
    let mut page = 0u8;
    write(root, &mut out, &mut page);
    out
}

fn write(n: &Node<'_>, out: &mut Vec<u8>, page: &mut u8) {
    match n {
        Node::Element(p, t, children) => {
            if *p != *page {
                out.extend_from_slice(&[SWITCH_PAGE, *p]);
                *page = *p;
            }
            if children.is_empty() {
                out.push(*t);
            } else {
                out.push(*t | CONTENT);
                for c in children {
                    write(c, out, page);
                }
                out.push(END);
            }
        }
        Node::Text(s) => {
            out.push(STR_I);
            out.extend(s.bytes().filter(|&b| b != 0));
            out.push(0);
        }
        Node::Opaque(b) => {
            out.push(OPAQUE);
            mb_u_int32(out, b.len() as u32);
            out.extend_from_slice(b);
        }
    }
}

fn mb_u_int32(out: &mut Vec<u8>, mut v: u32) {
    let mut tmp = [0u8; 5];
    let mut i = 5;
    loop {
        i -= 1;
        tmp[i] = (v & 0x7F) as u8 | if i == 4 { 0 } else { 0x80 };
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    table: &'a [u8],
    page: u8,
}

/// What a document holds, as the reader meets it: the tree of [`decode_node`] and the
/// flat element list the command decoder reads are two sinks of one reader.
trait Sink<'a> {
    /// An element begins (its content, if any, follows, then [`Sink::close`]).
    fn open(&mut self, page: u8, tag: u8);
    /// A string in the current element.
    fn text(&mut self, text: Cow<'a, str>);
    /// Opaque data in the current element.
    fn opaque(&mut self, data: &'a [u8]);
    /// The current element ends.
    fn close(&mut self);
}

fn bad(detail: impl Into<String>) -> DecodeError {
    DecodeError::new("ActiveSync WBXML", detail)
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.b.get(self.i).ok_or_else(|| bad("unexpected end"))?;
        self.i += 1;
        Ok(b)
    }
    fn mb(&mut self) -> Result<u32, DecodeError> {
        let mut v: u32 = 0;
        for _ in 0..5 {
            let b = self.byte()?;
            v = v.checked_mul(128).ok_or_else(|| bad("integer too large"))? | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("integer longer than 5 bytes"))
    }
    fn cstr(bytes: &'a [u8]) -> Result<(&'a str, usize), DecodeError> {
        let n = memchr::memchr(0, bytes).ok_or_else(|| bad("unterminated string"))?;
        let s = std::str::from_utf8(&bytes[..n]).map_err(|_| bad("a string that is not UTF-8"))?;
        Ok((s, n + 1))
    }
    fn content(&mut self, depth: usize, sink: &mut impl Sink<'a>) -> Result<(), DecodeError> {
        loop {
            let t = self.byte()?;
            // Tags first: most tokens of a document are elements (a comparison each, not
            // a jump table).
            if t & 0x3F >= 0x05 {
                self.element(t, depth, sink)?;
                continue;
            }
            // Then the other tokens in the order they are common.
            if t == END {
                return Ok(());
            }
            if t == STR_I {
                let (s, n) = Self::cstr(&self.b[self.i..])?;
                self.i += n;
                sink.text(Cow::Borrowed(s));
                continue;
            }
            match t {
                SWITCH_PAGE => self.page = self.byte()?,
                STR_T => {
                    let at = self.mb()? as usize;
                    let (s, _) = Self::cstr(
                        self.table
                            .get(at..)
                            .ok_or_else(|| bad("a string table reference out of range"))?,
                    )?;
                    sink.text(Cow::Borrowed(s));
                }
                ENTITY => {
                    let c = char::from_u32(self.mb()?)
                        .filter(|&c| c != '\0')
                        .ok_or_else(|| bad("a bad entity"))?;
                    sink.text(Cow::Owned(c.to_string()));
                }
                OPAQUE => {
                    let n = self.mb()? as usize;
                    let end = self
                        .i
                        .checked_add(n)
                        .filter(|&e| e <= self.b.len())
                        .ok_or_else(|| bad("opaque data past the end"))?;
                    sink.opaque(&self.b[self.i..end]);
                    self.i = end;
                }
                t => self.element(t, depth, sink)?,
            }
        }
    }
    fn element(
        &mut self,
        t: u8,
        depth: usize,
        sink: &mut impl Sink<'a>,
    ) -> Result<(), DecodeError> {
        if depth >= MAX_DEPTH {
            return Err(bad("nested too deep"));
        }
        if t & ATTRIBUTES != 0 {
            return Err(bad(format!(
                "token 0x{t:02X}: attributes are not used by ActiveSync"
            )));
        }
        let tag = t & 0x3F;
        if !known(self.page, tag) {
            return Err(bad(format!(
                "unknown tag 0x{tag:02X} of code page {}",
                self.page
            )));
        }
        sink.open(self.page, tag);
        if t & CONTENT != 0 {
            self.content(depth + 1, sink)?;
        }
        sink.close();
        Ok(())
    }
}

/// Reads a document (its header, then its root element) into `sink`.
fn read<'a>(bytes: &'a [u8], sink: &mut impl Sink<'a>) -> Result<(), DecodeError> {
    if bytes.len() > MAX_BYTES {
        return Err(bad("too large"));
    }
    let mut r = Reader {
        b: bytes,
        i: 0,
        table: &[],
        page: 0,
    };
    if r.byte()? != 0x03 {
        return Err(bad("not WBXML 1.3"));
    }
    if r.mb()? == 0 {
        return Err(bad("a public id in the string table is not supported"));
    }
    if r.mb()? != 106 {
        return Err(bad("the charset is not UTF-8"));
    }
    let n = r.mb()? as usize;
    let end =
        r.i.checked_add(n)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad("string table past the end"))?;
    r.table = &bytes[r.i..end];
    r.i = end;
    let mut t = r.byte()?;
    while t == SWITCH_PAGE {
        r.page = r.byte()?;
        t = r.byte()?;
    }
    if matches!(t, END | ENTITY | STR_I | STR_T | OPAQUE) || t & 0x3F < 0x05 {
        return Err(bad("the document does not start with an element"));
    }
    r.element(t, 0, sink)?;
    if r.i != bytes.len() {
        return Err(bad("bytes after the root element"));
    }
    Ok(())
}

/// The sink that builds a [`Node`] tree.
#[derive(Default)]
struct Tree<'a> {
    /// The open elements: code page, token, content so far.
    open: Vec<(u8, u8, Vec<Node<'a>>)>,
    root: Option<Node<'a>>,
}

impl<'a> Tree<'a> {
    fn push(&mut self, n: Node<'a>) {
        if let Some((_, _, children)) = self.open.last_mut() {
            children.push(n);
        }
    }
}

impl<'a> Sink<'a> for Tree<'a> {
    fn open(&mut self, page: u8, tag: u8) {
        self.open.push((page, tag, Vec::new()));
    }
    fn text(&mut self, text: Cow<'a, str>) {
        self.push(Node::Text(text));
    }
    fn opaque(&mut self, data: &'a [u8]) {
        self.push(Node::Opaque(Cow::Borrowed(data)));
    }
    fn close(&mut self) {
        if let Some((page, tag, children)) = self.open.pop() {
            let n = Node::Element(page, tag, children);
            if self.open.is_empty() {
                self.root = Some(n);
            } else {
                self.push(n);
            }
        }
    }
}

/// Decodes a document into its root element.
pub fn decode_node(bytes: &[u8]) -> Result<Node<'_>, DecodeError> {
    let mut tree = Tree::default();
    read(bytes, &mut tree)?;
    tree.root
        .ok_or_else(|| bad("the document does not start with an element"))
}

/// An element of a document read flat ([`Flat`]): its tag, the index after its last
/// descendant, and its strings (one borrowed, several joined).
struct FlatElement<'a> {
    tag: Tag,
    end: u32,
    text: Option<Cow<'a, str>>,
}

/// The sink that lists a document's elements in order, each with the extent of its
/// descendants: one vector for the whole document, where a tree allocates per element.
#[derive(Default)]
struct Flat<'a> {
    elements: Vec<FlatElement<'a>>,
    open: Vec<u32>,
}

impl<'a> Sink<'a> for Flat<'a> {
    fn open(&mut self, page: u8, token: u8) {
        self.open.push(self.elements.len() as u32);
        self.elements.push(FlatElement {
            tag: Tag { page, token },
            end: 0,
            text: None,
        });
    }
    fn text(&mut self, text: Cow<'a, str>) {
        if let Some(&at) = self.open.last() {
            match &mut self.elements[at as usize].text {
                Some(t) => t.to_mut().push_str(&text),
                none => *none = Some(text),
            }
        }
    }
    fn opaque(&mut self, _: &'a [u8]) {}
    fn close(&mut self) {
        if let Some(at) = self.open.pop() {
            self.elements[at as usize].end = self.elements.len() as u32;
        }
    }
}

/// Reads a document's elements flat.
fn flat(bytes: &[u8]) -> Result<Vec<FlatElement<'_>>, DecodeError> {
    let mut f = Flat {
        elements: Vec::with_capacity(32),
        open: Vec::with_capacity(8),
    };
    read(bytes, &mut f)?;
    Ok(f.elements)
}

/// A folder of a `FolderSync` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    /// `ServerId`.
    pub server_id: String,
    /// `ParentId`.
    pub parent_id: String,
    /// `DisplayName`.
    pub display_name: String,
    /// `Type` (2 = Inbox, 8 = Calendar, 9 = Contacts...).
    pub kind: u8,
}

/// A `Sync` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncResponse {
    /// The collection's `Status` (1 = success).
    pub status: u8,
    /// The new `SyncKey`.
    pub sync_key: String,
    /// `CollectionId`.
    pub collection_id: String,
    /// The items added (`Commands/Add`).
    pub items: Vec<MailItem>,
}

/// The ActiveSync commands modelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `Provision` request: the policy type, and the policy key when acknowledging.
    ProvisionRequest {
        /// `PolicyKey` of an acknowledgement.
        policy_key: Option<String>,
    },
    /// `Provision` response.
    ProvisionResponse {
        /// `Status` (1 = success, 2 = protocol error).
        status: u8,
        /// `PolicyKey`.
        policy_key: String,
    },
    /// `FolderSync` request.
    FolderSyncRequest {
        /// `SyncKey` (`0` at first).
        sync_key: String,
    },
    /// `FolderSync` response.
    FolderSyncResponse {
        /// `Status` (1 = success, 10 = incorrectly formatted request).
        status: u8,
        /// The new `SyncKey`.
        sync_key: String,
        /// The folders added.
        folders: Vec<Folder>,
    },
    /// `Sync` request for one collection.
    SyncRequest {
        /// `SyncKey`.
        sync_key: String,
        /// `CollectionId`.
        collection_id: String,
    },
    /// `Sync` response.
    SyncResponse(SyncResponse),
    /// `Sync` refused as a whole: `<Sync><Status>n</Status></Sync>` (4 = protocol error).
    SyncError {
        /// `Status`.
        status: u8,
    },
}

/// The policy type of ActiveSync provisioning.
pub const POLICY_TYPE: &str = "MS-EAS-Provisioning-WBXML";

impl Command {
    /// The command's name, with `request` or `response`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::ProvisionRequest { .. } => "Provision request",
            Command::ProvisionResponse { .. } => "Provision response",
            Command::FolderSyncRequest { .. } => "FolderSync request",
            Command::FolderSyncResponse { .. } => "FolderSync response",
            Command::SyncRequest { .. } => "Sync request",
            Command::SyncResponse(_) => "Sync response",
            Command::SyncError { .. } => "Sync error response",
        }
    }
    /// The encoded body.
    pub fn encode(&self) -> Encoded {
        Encoded::new(ContentType::Wbxml, encode(self))
    }
}

/// Writes a document token by token, as [`encode_node`] writes a tree, without the tree.
struct Writer {
    out: Vec<u8>,
    page: u8,
}

impl Writer {
    fn new() -> Writer {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(&[0x03, 0x01, 0x6A, 0x00]);
        Writer { out, page: 0 }
    }
    fn tag(&mut self, tag: Tag, flags: u8) {
        if tag.page != self.page {
            self.out.extend_from_slice(&[SWITCH_PAGE, tag.page]);
            self.page = tag.page;
        }
        self.out.push(tag.token | flags);
    }
    /// An element with content: its children follow, then [`Writer::end`].
    fn open(&mut self, tag: Tag) {
        self.tag(tag, CONTENT);
    }
    /// An element without content.
    fn empty(&mut self, tag: Tag) {
        self.tag(tag, 0);
    }
    fn end(&mut self) {
        self.out.push(END);
    }
    /// An element holding one string (its NUL bytes left out, as [`encode_node`] does).
    fn text(&mut self, tag: Tag, text: &str) {
        self.open(tag);
        self.out.push(STR_I);
        if memchr::memchr(0, text.as_bytes()).is_none() {
            self.out.extend_from_slice(text.as_bytes());
        } else {
            self.out.extend(text.bytes().filter(|&b| b != 0));
        }
        self.out.push(0);
        self.end();
    }
    /// [`Writer::text`] of a number.
    fn number(&mut self, tag: Tag, n: impl Into<u64>) {
        let mut digits = Vec::with_capacity(20);
        super::json::number(&mut digits, n.into());
        // ASCII digits.
        self.text(tag, std::str::from_utf8(&digits).unwrap_or("0"));
    }
}

/// The WBXML of a command.
pub fn encode(c: &Command) -> Vec<u8> {
    let mut w = Writer::new();
    match c {
        Command::ProvisionRequest { policy_key } => {
            w.open(tag!(Provision, "Provision"));
            w.open(tag!(Provision, "Policies"));
            w.open(tag!(Provision, "Policy"));
            w.text(tag!(Provision, "PolicyType"), POLICY_TYPE);
            if let Some(k) = policy_key {
                w.text(tag!(Provision, "PolicyKey"), k);
                w.text(tag!(Provision, "Status"), "1");
            }
            w.end();
            w.end();
            w.end();
        }
        Command::ProvisionResponse { status, policy_key } => {
            w.open(tag!(Provision, "Provision"));
            w.number(tag!(Provision, "Status"), *status);
            // A refused request (a protocol error) is answered with its status alone.
            if *status == 1 {
                w.open(tag!(Provision, "Policies"));
                w.open(tag!(Provision, "Policy"));
                w.text(tag!(Provision, "PolicyType"), POLICY_TYPE);
                w.text(tag!(Provision, "Status"), "1");
                w.text(tag!(Provision, "PolicyKey"), policy_key);
                w.end();
                w.end();
            }
            w.end();
        }
        Command::FolderSyncRequest { sync_key } => {
            w.open(tag!(FolderHierarchy, "FolderSync"));
            w.text(tag!(FolderHierarchy, "SyncKey"), sync_key);
            w.end();
        }
        Command::FolderSyncResponse {
            status,
            sync_key,
            folders,
        } => {
            w.open(tag!(FolderHierarchy, "FolderSync"));
            w.number(tag!(FolderHierarchy, "Status"), *status);
            if *status == 1 {
                w.text(tag!(FolderHierarchy, "SyncKey"), sync_key);
                w.open(tag!(FolderHierarchy, "Changes"));
                w.number(tag!(FolderHierarchy, "Count"), folders.len() as u64);
                for f in folders {
                    w.open(tag!(FolderHierarchy, "Add"));
                    w.text(tag!(FolderHierarchy, "ServerId"), &f.server_id);
                    w.text(tag!(FolderHierarchy, "ParentId"), &f.parent_id);
                    w.text(tag!(FolderHierarchy, "DisplayName"), &f.display_name);
                    w.number(tag!(FolderHierarchy, "Type"), f.kind);
                    w.end();
                }
                w.end();
            }
            w.end();
        }
        Command::SyncRequest {
            sync_key,
            collection_id,
        } => {
            w.open(tag!(AirSync, "Sync"));
            w.open(tag!(AirSync, "Collections"));
            w.open(tag!(AirSync, "Collection"));
            w.text(tag!(AirSync, "SyncKey"), sync_key);
            w.text(tag!(AirSync, "CollectionId"), collection_id);
            // GetChanges with the initial key 0 is a protocol error (MS-ASCMD Sync status
            // 4): it is sent only with a later key.
            if sync_key != "0" {
                w.empty(tag!(AirSync, "GetChanges"));
            }
            w.end();
            w.end();
            w.end();
        }
        Command::SyncError { status } => {
            w.open(tag!(AirSync, "Sync"));
            w.number(tag!(AirSync, "Status"), *status);
            w.end();
        }
        Command::SyncResponse(s) => {
            w.open(tag!(AirSync, "Sync"));
            w.open(tag!(AirSync, "Collections"));
            w.open(tag!(AirSync, "Collection"));
            w.text(tag!(AirSync, "SyncKey"), &s.sync_key);
            w.text(tag!(AirSync, "CollectionId"), &s.collection_id);
            w.number(tag!(AirSync, "Status"), s.status);
            if !s.items.is_empty() {
                w.open(tag!(AirSync, "Commands"));
                for m in &s.items {
                    w.open(tag!(AirSync, "Add"));
                    w.text(tag!(AirSync, "ServerId"), &m.id);
                    w.open(tag!(AirSync, "ApplicationData"));
                    w.text(tag!(Email, "From"), &m.from);
                    w.text(tag!(Email, "Subject"), &m.subject);
                    w.text(tag!(Email, "DateReceived"), &m.received);
                    w.end();
                    w.end();
                }
                w.end();
            }
            w.end();
            w.end();
            w.end();
        }
    }
    w.out
}

/// A view of a decoded element for reading by name.
#[derive(Clone, Copy)]
struct View<'d, 'a> {
    doc: &'d [FlatElement<'a>],
    at: usize,
}

impl<'d, 'a> View<'d, 'a> {
    /// The root element of a document read flat.
    fn root(doc: &'d [FlatElement<'a>]) -> View<'d, 'a> {
        View { doc, at: 0 }
    }
    fn is(&self, tag: Tag) -> bool {
        self.doc.get(self.at).is_some_and(|e| e.tag == tag)
    }
    /// The child elements, in order.
    fn children(&self) -> impl Iterator<Item = View<'d, 'a>> + 'd {
        let doc = self.doc;
        let end = doc.get(self.at).map_or(0, |e| e.end as usize);
        let mut next = self.at + 1;
        std::iter::from_fn(move || {
            let at = next;
            let e = doc.get(at).filter(|_| at < end)?;
            next = e.end as usize;
            Some(View { doc, at })
        })
    }
    fn child(&self, tag: Tag) -> Option<View<'d, 'a>> {
        self.children().find(|v| v.is(tag))
    }
    fn all(&self, tag: Tag) -> impl Iterator<Item = View<'d, 'a>> + 'd {
        self.children().filter(move |v| v.is(tag))
    }
    /// The element's strings, joined.
    fn text(&self) -> &'d str {
        self.doc
            .get(self.at)
            .and_then(|e| e.text.as_deref())
            .unwrap_or("")
    }
    /// The text of the first child `tag`, borrowed (for what is compared or parsed).
    fn str_of(&self, tag: Tag) -> Option<&'d str> {
        self.child(tag).map(|c| c.text())
    }
    /// The text of the first child `tag`, owned (for a command's fields).
    fn text_of(&self, tag: Tag) -> Option<String> {
        self.str_of(tag).map(str::to_string)
    }
}

fn status(s: Option<&str>) -> Result<u8, DecodeError> {
    s.and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("a Status that is not a number"))
}

/// Decodes a command.
pub fn decode(bytes: &[u8]) -> Result<Command, DecodeError> {
    decode_root(View::root(&flat(bytes)?))
}

/// The command a decoded document holds.
fn decode_root(r: View<'_, '_>) -> Result<Command, DecodeError> {
    if r.is(tag!(Provision, "Provision")) {
        let policy = r
            .child(tag!(Provision, "Policies"))
            .and_then(|p| p.child(tag!(Provision, "Policy")));
        if let Some(p) = &policy {
            if p.str_of(tag!(Provision, "PolicyType")) != Some(POLICY_TYPE) {
                return Err(bad("Provision of an unknown PolicyType"));
            }
        }
        return match (r.str_of(tag!(Provision, "Status")), policy) {
            (Some(s), policy) => {
                let status = status(Some(s))?;
                let policy_key = policy.and_then(|p| p.text_of(tag!(Provision, "PolicyKey")));
                if status == 1 && policy_key.is_none() {
                    return Err(bad("a successful Provision without its PolicyKey"));
                }
                Ok(Command::ProvisionResponse {
                    status,
                    policy_key: policy_key.unwrap_or_default(),
                })
            }
            (None, Some(p)) => Ok(Command::ProvisionRequest {
                policy_key: p.text_of(tag!(Provision, "PolicyKey")),
            }),
            (None, None) => Err(bad("Provision without Policies/Policy")),
        };
    }
    if r.is(tag!(FolderHierarchy, "FolderSync")) {
        let key = r.text_of(tag!(FolderHierarchy, "SyncKey"));
        return Ok(match r.str_of(tag!(FolderHierarchy, "Status")) {
            None => Command::FolderSyncRequest {
                sync_key: key.ok_or_else(|| bad("FolderSync without SyncKey"))?,
            },
            Some(s) if s != "1" => Command::FolderSyncResponse {
                status: status(Some(s))?,
                sync_key: String::new(),
                folders: Vec::new(),
            },
            Some(s) => {
                let sync_key = key.ok_or_else(|| bad("FolderSync without SyncKey"))?;
                let folders = r
                    .child(tag!(FolderHierarchy, "Changes"))
                    .map(|c| {
                        c.all(tag!(FolderHierarchy, "Add"))
                            .map(|a| {
                                Ok(Folder {
                                    server_id: a
                                        .text_of(tag!(FolderHierarchy, "ServerId"))
                                        .unwrap_or_default(),
                                    parent_id: a
                                        .text_of(tag!(FolderHierarchy, "ParentId"))
                                        .unwrap_or_default(),
                                    display_name: a
                                        .text_of(tag!(FolderHierarchy, "DisplayName"))
                                        .unwrap_or_default(),
                                    kind: status(a.str_of(tag!(FolderHierarchy, "Type")))?,
                                })
                            })
                            .collect::<Result<Vec<_>, DecodeError>>()
                    })
                    .transpose()?
                    .unwrap_or_default();
                Command::FolderSyncResponse {
                    status: status(Some(s))?,
                    sync_key,
                    folders,
                }
            }
        });
    }
    if r.is(tag!(AirSync, "Sync")) {
        if let Some(s) = r.str_of(tag!(AirSync, "Status")) {
            return Ok(Command::SyncError {
                status: status(Some(s))?,
            });
        }
        let coll = r
            .child(tag!(AirSync, "Collections"))
            .and_then(|c| c.child(tag!(AirSync, "Collection")))
            .ok_or_else(|| bad("Sync without Collections/Collection"))?;
        let sync_key = coll
            .text_of(tag!(AirSync, "SyncKey"))
            .ok_or_else(|| bad("Sync without SyncKey"))?;
        let collection_id = coll
            .text_of(tag!(AirSync, "CollectionId"))
            .ok_or_else(|| bad("Sync without CollectionId"))?;
        return Ok(match coll.str_of(tag!(AirSync, "Status")) {
            None => Command::SyncRequest {
                sync_key,
                collection_id,
            },
            Some(s) => {
                let items = coll
                    .child(tag!(AirSync, "Commands"))
                    .map(|c| {
                        c.all(tag!(AirSync, "Add"))
                            .map(|a| {
                                let d = a.child(tag!(AirSync, "ApplicationData"));
                                let t = |tag: Tag| {
                                    d.as_ref().and_then(|d| d.text_of(tag)).unwrap_or_default()
                                };
                                MailItem {
                                    id: a.text_of(tag!(AirSync, "ServerId")).unwrap_or_default(),
                                    subject: t(tag!(Email, "Subject")),
                                    from: t(tag!(Email, "From")),
                                    received: t(tag!(Email, "DateReceived")),
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Command::SyncResponse(SyncResponse {
                    status: status(Some(s))?,
                    sync_key,
                    collection_id,
                    items,
                })
            }
        });
    }
    Err(bad("not a Provision, FolderSync or Sync command"))
}

/// Reads a posted command as Exchange does: bytes that are not WBXML are `400 Bad
/// Request`; a well-formed document of a known command that is not a request of it is
/// answered `200` with the command's protocol-error status (Provision 2, FolderSync 10,
/// Sync 4).
pub fn decode_request(bytes: &[u8]) -> Result<Command, WireError> {
    let not_wbxml = || WireError::new(400, Refusal::Http(super::http1::BadRequest::BadRequest));
    let doc = flat(bytes).map_err(|_| not_wbxml())?;
    let protocol_error = |c: Command| WireError::new(200, Refusal::ActiveSync(c));
    let r = View::root(&doc);
    match decode_root(r) {
        Ok(
            c @ (Command::ProvisionRequest { .. }
            | Command::FolderSyncRequest { .. }
            | Command::SyncRequest { .. }),
        ) => Ok(c),
        _ if r.is(tag!(Provision, "Provision")) => {
            Err(protocol_error(Command::ProvisionResponse {
                status: 2,
                policy_key: String::new(),
            }))
        }
        _ if r.is(tag!(FolderHierarchy, "FolderSync")) => {
            Err(protocol_error(Command::FolderSyncResponse {
                status: 10,
                sync_key: String::new(),
                folders: vec![],
            }))
        }
        _ if r.is(tag!(AirSync, "Sync")) => Err(protocol_error(Command::SyncError { status: 4 })),
        _ => Err(not_wbxml()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::carries_mailbox;

    pub(crate) fn commands() -> Vec<Command> {
        vec![
            Command::ProvisionRequest { policy_key: None },
            Command::ProvisionRequest {
                policy_key: Some("1307199584".into()),
            },
            Command::ProvisionResponse {
                status: 1,
                policy_key: "1307199584".into(),
            },
            Command::FolderSyncRequest {
                sync_key: "0".into(),
            },
            Command::FolderSyncResponse {
                status: 1,
                sync_key: "1".into(),
                folders: vec![Folder {
                    server_id: "5".into(),
                    parent_id: "0".into(),
                    display_name: "Inbox".into(),
                    kind: 2,
                }],
            },
            Command::SyncRequest {
                sync_key: "0".into(),
                collection_id: "5".into(),
            },
            Command::SyncResponse(SyncResponse {
                status: 1,
                sync_key: "2".into(),
                collection_id: "5".into(),
                items: vec![MailItem {
                    id: "5:1".into(),
                    subject: "Héllo".into(),
                    from: "a@contoso.com".into(),
                    received: "2026-01-01T00:00:00.000Z".into(),
                }],
            }),
        ]
    }

    #[test]
    fn commands_round_trip() {
        for c in commands() {
            assert_eq!(decode(&encode(&c)).unwrap(), c);
        }
    }

    #[test]
    fn the_header_and_tokens_are_ms_aswbxml() {
        let b = encode(&Command::FolderSyncRequest {
            sync_key: "0".into(),
        });
        // Header, SWITCH_PAGE 7, FolderSync with content, SyncKey with content, STR_I "0", END, END.
        assert_eq!(
            b,
            [0x03, 0x01, 0x6A, 0x00, 0x00, 0x07, 0x56, 0x52, 0x03, b'0', 0x00, 0x01, 0x01]
        );
        // The same document through the string table.
        let t = [
            0x03, 0x01, 0x6A, 0x02, b'0', 0x00, 0x00, 0x07, 0x56, 0x52, 0x83, 0x00, 0x01, 0x01,
        ];
        assert_eq!(
            decode(&t).unwrap(),
            Command::FolderSyncRequest {
                sync_key: "0".into()
            }
        );
    }

    #[test]
    fn malformed_documents_are_refused() {
        for bad in [
            &[][..],
            &[0x02, 0x01, 0x6A, 0x00, 0x45, 0x01],
            &[0x03, 0x01, 0x04, 0x00, 0x45, 0x01],
            &[0x03, 0x01, 0x6A, 0x00, 0x45],
            &[0x03, 0x01, 0x6A, 0x00, 0x7F, 0x01],
            &[
                0x03, 0x01, 0x6A, 0x00, 0x00, 0x07, 0x56, 0x52, 0x83, 0x09, 0x01, 0x01,
            ],
            &[0x03, 0x01, 0x6A, 0x05, 0x00],
            &[0x03, 0x01, 0x6A, 0x00, 0xC5, 0x01],
            &[0x03, 0x01, 0x6A, 0x00, 0x00, 0x07, 0x16, 0x16],
        ] {
            assert!(decode(bad).is_err(), "{bad:02X?}");
        }
        let deep: Vec<u8> = [0x03, 0x01, 0x6A, 0x00]
            .into_iter()
            .chain(std::iter::repeat_n(0x45, MAX_DEPTH + 1))
            .collect();
        assert!(decode(&deep).is_err());
    }

    #[test]
    fn requests_are_refused_as_exchange_does() {
        let e = decode_request(b"<Sync/>").unwrap_err();
        assert_eq!(e.status, 400);
        let resp = encode(&Command::FolderSyncResponse {
            status: 1,
            sync_key: "1".into(),
            folders: vec![],
        });
        let e = decode_request(&resp).unwrap_err();
        assert_eq!(e.status, 200);
        assert!(matches!(
            e.refusal,
            Refusal::ActiveSync(Command::FolderSyncResponse { status: 10, .. })
        ));
        let sync = encode(&Command::SyncError { status: 1 });
        assert!(matches!(
            decode_request(&sync).unwrap_err().refusal,
            Refusal::ActiveSync(Command::SyncError { status: 4 })
        ));
        assert!(decode_request(&encode(&Command::SyncRequest {
            sync_key: "0".into(),
            collection_id: "5".into()
        }))
        .is_ok());
    }

    #[test]
    fn protocol_errors_have_the_shapes_of_ms_ascmd() {
        use Page::*;
        // <Sync><Status>4</Status></Sync>, <FolderSync><Status>10</Status></FolderSync>,
        // <Provision><Status>2</Status></Provision>.
        let cases = [
            (
                Command::SyncError { status: 4 },
                el(AirSync, "Sync", vec![text_el(AirSync, "Status", "4")]),
            ),
            (
                Command::FolderSyncResponse {
                    status: 10,
                    sync_key: String::new(),
                    folders: vec![],
                },
                el(
                    FolderHierarchy,
                    "FolderSync",
                    vec![text_el(FolderHierarchy, "Status", "10")],
                ),
            ),
            (
                Command::ProvisionResponse {
                    status: 2,
                    policy_key: String::new(),
                },
                el(
                    Provision,
                    "Provision",
                    vec![text_el(Provision, "Status", "2")],
                ),
            ),
        ];
        for (c, tree) in cases {
            assert_eq!(encode(&c), encode_node(&tree), "{}", c.name());
            assert_eq!(decode(&encode(&c)).unwrap(), c);
        }
        // A successful Provision must carry its key.
        let no_key = el(
            Provision,
            "Provision",
            vec![text_el(Provision, "Status", "1")],
        );
        assert!(decode(&encode_node(&no_key)).is_err());
    }

    #[test]
    fn an_initial_sync_sends_no_get_changes() {
        let (first, later) = ["0", "7"]
            .map(|key| {
                encode(&Command::SyncRequest {
                    sync_key: key.into(),
                    collection_id: "5".into(),
                })
            })
            .into();
        let (first, later) = (flat(&first).unwrap(), flat(&later).unwrap());
        let has = |doc: &[FlatElement<'_>]| {
            View::root(doc)
                .child(tag!(AirSync, "Collections"))
                .and_then(|c| c.child(tag!(AirSync, "Collection")))
                .is_some_and(|c| c.child(tag!(AirSync, "GetChanges")).is_some())
        };
        assert!(!has(&first));
        assert!(has(&later));
    }

    #[test]
    fn a_sync_with_items_is_mailbox_content() {
        let all = commands();
        let sync = all.last().unwrap().encode();
        assert!(carries_mailbox(sync.content_type, &sync.bytes));
        for c in &all[..all.len() - 1] {
            assert!(
                !carries_mailbox(ContentType::Wbxml, &encode(c)),
                "{}",
                c.name()
            );
        }
    }
}
