//! Salesforce Outbound Messages: reading the SOAP request, writing the answer.
//!
//! An Outbound Message is a SOAP 1.1 envelope whose body holds one
//! `notifications` element (namespace `http://soap.sforce.com/2005/09/outbound`)
//! with 1 to 100 `Notification`s, each carrying an `sObject`: the fields the
//! admin chose in Setup. [`parse`] turns the bytes into an [`OutboundMessage`]
//! or a [`SoapError`] whose text tells the Salesforce admin what to fix (it is
//! shown on Setup's "Outbound Messages" delivery-failure page).
//!
//! Rules kept here:
//! - Names are matched by namespace URI and local name, never by prefix.
//! - A field with `xsi:nil="true"` is [`FieldValue::Null`]; an empty element is
//!   an empty string; a field not sent is absent from the map.
//! - Entities and character references are decoded; a DOCTYPE (and with it any
//!   entity declaration) is refused, never expanded.
//! - Bodies over [`MAX_BODY_BYTES`] and more than [`MAX_NOTIFICATIONS`]
//!   notifications are refused before anything is done with them.
//! - `SessionId` is a live Salesforce credential: it is skipped while reading
//!   and never kept in any returned value. The SOAP `Header`, and anything
//!   in the envelope besides the `Body`, is skipped too, never stored.
//! - The reader is bounded for hostile input within the body cap: at most
//!   [`MAX_ATTRIBUTES`] attributes an element (checked in one pass, no
//!   duplicate search), [`MAX_ELEMENTS`] elements a message, [`MAX_DEPTH`]
//!   levels, [`MAX_TEXT_BYTES`] of text a field, [`MAX_REFERENCES`] entity
//!   and character references a message; namespace URIs are compared with
//!   the three sfsync knows, never copied per element.
//!
//! [`ack`] renders the `<Ack>` answer and [`fault`] a SOAP Fault.

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::sobject::{normalize_id, FieldValue, SObject};

/// The SOAP 1.1 envelope namespace.
pub const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The namespace of Salesforce's outbound messaging schema.
pub const OUTBOUND_NS: &str = "http://soap.sforce.com/2005/09/outbound";
/// XML Schema instance namespace (`xsi:nil`, `xsi:type`).
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Largest body accepted: 8 MiB. A full message of 100 notifications with
/// every field of a wide object stays far below 1 MiB; the limit only stops
/// abuse from costing memory.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Salesforce sends at most 100 notifications in one message.
pub const MAX_NOTIFICATIONS: usize = 100;
/// Deepest element nesting accepted (an Outbound Message is 5 levels deep).
pub const MAX_DEPTH: usize = 32;
/// Most attributes on one element (Salesforce sends one or two).
pub const MAX_ATTRIBUTES: usize = 32;
/// Most elements in one message: 100 notifications of 1,000 fields each.
pub const MAX_ELEMENTS: usize = 100_000;
/// Longest text of one element: Salesforce's long text fields hold 131,072
/// characters (up to 4 bytes each in UTF-8).
pub const MAX_TEXT_BYTES: usize = 4 * 131_072;
/// Most entity and character references in one message: each costs a
/// step of its own, and Salesforce escapes only `&`, `<` and `>`.
pub const MAX_REFERENCES: usize = 100_000;

/// The namespace of an element, as far as sfsync cares: the three it knows,
/// or another (compared, never copied).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Ns {
    #[default]
    None,
    Envelope,
    Outbound,
    Xsi,
    Other,
}

impl Ns {
    fn of(uri: &[u8]) -> Ns {
        match uri {
            u if u == SOAP_ENV_NS.as_bytes() => Ns::Envelope,
            u if u == OUTBOUND_NS.as_bytes() => Ns::Outbound,
            u if u == XSI_NS.as_bytes() => Ns::Xsi,
            _ => Ns::Other,
        }
    }

    fn uri(self) -> Option<&'static str> {
        match self {
            Ns::Envelope => Some(SOAP_ENV_NS),
            Ns::Outbound => Some(OUTBOUND_NS),
            Ns::Xsi => Some(XSI_NS),
            Ns::None | Ns::Other => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Ns::None => "(none)",
            Ns::Other => "(another namespace)",
            known => known.uri().unwrap_or_default(),
        }
    }
}

/// One parsed Outbound Message, without its `SessionId`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    /// The sending org's 18-character id.
    pub organization_id: String,
    /// The Outbound Message definition that sent it, if given.
    pub action_id: Option<String>,
    /// The org's instance (`https://acme.my.salesforce.com`), from the
    /// message's `EnterpriseUrl` or `PartnerUrl`, when it is a Salesforce
    /// host: where a record opens (`{instance}/{Id}`).
    pub instance_url: Option<String>,
    /// The usable notifications, in document order.
    pub notifications: Vec<Notification>,
    /// The notifications that cannot be used on their own (a record deleted
    /// before delivery, a malformed one); together with `notifications`
    /// there are 1 to 100.
    pub unusable: Vec<UnusableNotification>,
}

/// A notification that cannot be synced on its own. It never refuses the
/// message: it is recorded as its own outcome (interfaces.md, "One bad
/// notification never blocks the others").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableNotification {
    /// Its position in the message, 1-based.
    pub position: usize,
    /// Its notification `Id`, when it has one.
    pub id: Option<String>,
    /// `(object, record id)`, when both are known.
    pub record: Option<(String, String)>,
    pub problem: NotificationProblem,
}

impl UnusableNotification {
    /// How a run lists it: its notification id, else its position.
    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => format!("notification {id}"),
            None => format!("notification {}", self.position),
        }
    }
}

/// What is wrong with one notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationProblem {
    /// No sObject, an empty one, or one that carries only its Id: what
    /// Salesforce sends when the record was deleted before delivery.
    #[error("record deleted in Salesforce before delivery")]
    RecordDeleted,
    #[error(
        "the notification has no Id, so its redeliveries cannot be recognised; nothing was synced"
    )]
    NoNotificationId,
    #[error("the sObject has no xsi:type naming its object (e.g. sf:Contact); nothing was synced (Salesforce always sends one: check what is calling this endpoint)")]
    NoObjectType,
    #[error("the sObject has no Id field; add Id to the fields the Outbound Message sends")]
    NoRecordId,
    #[error("the sObject's Id \"{0}\" is not a Salesforce id (15 or 18 letters and digits); nothing was synced (check what is calling this endpoint)")]
    NotASalesforceId(String),
    #[error("field {0} is not a plain value; send only fields of the object itself")]
    NestedField(String),
}

impl NotificationProblem {
    /// Whether this is the normal trace of a deleted record, not a fault.
    pub fn is_deletion(&self) -> bool {
        matches!(self, NotificationProblem::RecordDeleted)
    }
}

/// One notification: a stable delivery id and the record's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Same across redeliveries of this notification.
    pub id: String,
    /// The record as sent.
    pub sobject: SObject,
}

/// Why a body is not an acceptable Outbound Message. Each text says what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SoapError {
    #[error("message body is {size} bytes, over sfsync's limit of {limit} bytes; send fewer or smaller notifications")]
    TooLarge { size: usize, limit: usize },
    #[error("message body is not UTF-8 text; Outbound Messages are UTF-8 XML, check what is calling this endpoint")]
    NotUtf8,
    #[error("message body is not well-formed XML ({0}); this endpoint accepts Salesforce Outbound Messages only")]
    NotXml(String),
    #[error("message contains a DOCTYPE or entity declaration, which sfsync refuses; Salesforce never sends one, check what is calling this endpoint")]
    Doctype,
    #[error("message is not a SOAP 1.1 envelope ({0}); this endpoint accepts Salesforce Outbound Messages only")]
    NotEnvelope(String),
    #[error("SOAP body does not hold an Outbound Message ({0}); point only Outbound Message actions at this endpoint")]
    NotOutboundMessage(String),
    #[error(
        "Outbound Message has no OrganizationId; it cannot be checked against sf_organization_id"
    )]
    MissingOrganizationId,
    #[error("Outbound Message holds no Notification; nothing to sync")]
    NoNotifications,
    #[error("Outbound Message holds {0} notifications, more than the 100 Salesforce may send in one message")]
    TooManyNotifications(usize),
}

/// A light element tree: just what an Outbound Message needs.
#[derive(Debug, Default)]
struct Element {
    ns: Ns,
    name: String,
    nil: bool,
    xsi_type: Option<String>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns.uri() == Some(ns) && self.name == name
    }

    fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    fn text_of(&self, ns: &str, name: &str) -> Option<String> {
        self.child(ns, name)
            .filter(|c| !c.nil)
            .map(|c| c.text.trim().to_string())
            .filter(|t| !t.is_empty())
    }
}

/// Parse an Outbound Message body.
pub fn parse(body: &[u8]) -> Result<OutboundMessage, SoapError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(SoapError::TooLarge {
            size: body.len(),
            limit: MAX_BODY_BYTES,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| SoapError::NotUtf8)?;
    let root = read_tree(text)?;
    message_from_tree(&root)
}

fn read_tree(text: &str) -> Result<Element, SoapError> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    // Depth inside a skipped element (the SessionId, the SOAP Header,
    // anything in the envelope but the Body): nothing in it is kept.
    let mut skip_depth = 0usize;
    let mut elements = 0usize;
    let mut references = 0usize;
    let mut count = || {
        elements += 1;
        if elements > MAX_ELEMENTS {
            return Err(SoapError::NotXml(format!(
                "more than {MAX_ELEMENTS} elements; an Outbound Message has far fewer"
            )));
        }
        Ok(())
    };
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| SoapError::NotXml(e.to_string()))?;
        let ns = owned_namespace(resolved);
        match event {
            Event::DocType(_) => return Err(SoapError::Doctype),
            Event::Start(_) | Event::Empty(_) if root.is_some() && stack.is_empty() => {
                return Err(SoapError::NotXml("more than one root element".into()));
            }
            Event::Start(start) => {
                count()?;
                let element = open_element(&reader, ns?, &start)?;
                if skip_depth > 0 || skipped(&element, &stack) {
                    skip_depth += 1;
                }
                stack.push(element);
                if stack.len() > MAX_DEPTH {
                    return Err(SoapError::NotXml(format!(
                        "elements nested deeper than {MAX_DEPTH} levels"
                    )));
                }
            }
            Event::Empty(start) => {
                count()?;
                let element = open_element(&reader, ns?, &start)?;
                if skip_depth == 0 && !skipped(&element, &stack) {
                    close_element(element, &mut stack, &mut root);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| SoapError::NotXml("unexpected end tag".into()))?;
                if skip_depth > 0 {
                    skip_depth -= 1;
                } else {
                    close_element(element, &mut stack, &mut root);
                }
            }
            Event::Text(t) => {
                if skip_depth > 0 {
                    continue;
                }
                let raw = std::str::from_utf8(&t).map_err(|_| SoapError::NotUtf8)?;
                references += raw.bytes().filter(|b| *b == b'&').count();
                if references > MAX_REFERENCES {
                    return Err(SoapError::NotXml(format!(
                        "more than {MAX_REFERENCES} entity or character references; an Outbound Message has far fewer"
                    )));
                }
                match stack.last_mut() {
                    Some(top) => push_escaped(top, raw)?,
                    None if raw.trim().is_empty() => {}
                    None => return Err(SoapError::NotXml("text outside the root element".into())),
                }
            }
            Event::CData(c) => {
                if skip_depth > 0 {
                    continue;
                }
                let raw = std::str::from_utf8(&c).map_err(|_| SoapError::NotUtf8)?;
                match stack.last_mut() {
                    Some(top) => push_text(top, raw)?,
                    None => return Err(SoapError::NotXml("CDATA outside the root element".into())),
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(SoapError::NotXml("document ends inside an element".into()));
    }
    root.ok_or_else(|| SoapError::NotXml("no root element".into()))
}

/// Whether an element's content is skipped, not stored: the SessionId (a
/// credential), the SOAP Header, and whatever else the envelope holds
/// besides its Body.
fn skipped(element: &Element, stack: &[Element]) -> bool {
    let in_envelope = stack.len() == 1 && stack[0].is(SOAP_ENV_NS, "Envelope");
    element.is(OUTBOUND_NS, "SessionId") || (in_envelope && !element.is(SOAP_ENV_NS, "Body"))
}

/// Append escaped text (character data as it is in the document): the five
/// predefined entities and character references decoded in one pass. A
/// reference never decodes longer than it is written, so raw text far over
/// the cap is refused before any decoding.
fn push_escaped(element: &mut Element, raw: &str) -> Result<(), SoapError> {
    if raw.len() > 8 * MAX_TEXT_BYTES {
        return push_text(element, raw);
    }
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        push_text(element, &rest[..amp])?;
        let after = &rest[amp + 1..];
        let semi = after
            .find(';')
            .filter(|n| *n <= 10)
            .ok_or_else(|| SoapError::NotXml("an & that starts no entity; write &amp;".into()))?;
        let name = &after[..semi];
        let decoded = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32).ok_or_else(|| {
                    SoapError::NotXml(format!(
                        "unknown entity &{name}; (no DOCTYPE, so only the five predefined ones and character references exist)"
                    ))
                })?
            }
        };
        let mut buf = [0u8; 4];
        push_text(element, decoded.encode_utf8(&mut buf))?;
        rest = &after[semi + 1..];
    }
    push_text(element, rest)
}

fn push_text(element: &mut Element, text: &str) -> Result<(), SoapError> {
    if element.text.len() + text.len() > MAX_TEXT_BYTES {
        return Err(SoapError::NotXml(format!(
            "element {} holds more than {MAX_TEXT_BYTES} bytes of text; no Salesforce field is that long",
            element.name
        )));
    }
    element.text.push_str(text);
    Ok(())
}

/// The namespace an element name resolved to; an undeclared prefix is an error.
fn owned_namespace(resolved: ResolveResult) -> Result<Ns, SoapError> {
    match resolved {
        ResolveResult::Bound(ns) => Ok(Ns::of(ns.as_ref())),
        ResolveResult::Unbound => Ok(Ns::None),
        ResolveResult::Unknown(prefix) => Err(SoapError::NotXml(format!(
            "namespace prefix {} is not declared",
            String::from_utf8_lossy(&prefix)
        ))),
    }
}

fn open_element(
    reader: &NsReader<&[u8]>,
    ns: Ns,
    start: &BytesStart,
) -> Result<Element, SoapError> {
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let mut element = Element {
        ns,
        name,
        ..Element::default()
    };
    // One pass: quick-xml's duplicate check is quadratic in the number of
    // attributes, so it is off and the count is capped instead.
    for (n, attr) in start.attributes().with_checks(false).enumerate() {
        if n >= MAX_ATTRIBUTES {
            return Err(SoapError::NotXml(format!(
                "element {} has more than {MAX_ATTRIBUTES} attributes",
                String::from_utf8_lossy(start.local_name().as_ref())
            )));
        }
        let attr = attr.map_err(|e| SoapError::NotXml(e.to_string()))?;
        let (attr_ns, local) = reader.resolve_attribute(attr.key);
        let is_xsi =
            matches!(attr_ns, ResolveResult::Bound(ns) if ns.as_ref() == XSI_NS.as_bytes());
        if !is_xsi {
            continue;
        }
        let value = attr
            .unescape_value()
            .map_err(|e| SoapError::NotXml(e.to_string()))?;
        match local.as_ref() {
            b"nil" => element.nil = matches!(value.trim(), "true" | "1"),
            b"type" => element.xsi_type = Some(value.trim().to_string()),
            _ => {}
        }
    }
    Ok(element)
}

fn close_element(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn message_from_tree(root: &Element) -> Result<OutboundMessage, SoapError> {
    if !root.is(SOAP_ENV_NS, "Envelope") {
        return Err(SoapError::NotEnvelope(format!(
            "root element is {} in namespace {}",
            root.name,
            root.ns.describe()
        )));
    }
    let body = root
        .child(SOAP_ENV_NS, "Body")
        .ok_or_else(|| SoapError::NotEnvelope("no soap Body element".into()))?;
    let notifications = body.child(OUTBOUND_NS, "notifications").ok_or_else(|| {
        let found = body
            .children
            .first()
            .map(|c| format!("found {} in namespace {}", c.name, c.ns.describe()))
            .unwrap_or_else(|| "the Body is empty".into());
        SoapError::NotOutboundMessage(format!("expected notifications in {OUTBOUND_NS}, {found}"))
    })?;
    let organization_id = notifications
        .text_of(OUTBOUND_NS, "OrganizationId")
        .ok_or(SoapError::MissingOrganizationId)?;
    let action_id = notifications.text_of(OUTBOUND_NS, "ActionId");
    let instance_url = ["EnterpriseUrl", "PartnerUrl"].iter().find_map(|name| {
        notifications
            .text_of(OUTBOUND_NS, name)
            .and_then(|u| instance_of(&u))
    });

    let items: Vec<&Element> = notifications
        .children
        .iter()
        .filter(|c| c.is(OUTBOUND_NS, "Notification"))
        .collect();
    if items.is_empty() {
        return Err(SoapError::NoNotifications);
    }
    if items.len() > MAX_NOTIFICATIONS {
        return Err(SoapError::TooManyNotifications(items.len()));
    }
    let mut notifications = Vec::new();
    let mut unusable = Vec::new();
    for (i, n) in items.iter().enumerate() {
        match notification_from_tree(i + 1, n) {
            Ok(n) => notifications.push(n),
            Err(u) => unusable.push(u),
        }
    }
    Ok(OutboundMessage {
        organization_id,
        action_id,
        instance_url,
        notifications,
        unusable,
    })
}

/// `https://host` of a Salesforce API URL, if its host is Salesforce's
/// (`*.salesforce.com`, `*.force.com`): nothing else becomes a link.
pub fn instance_of(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let host = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && (host.ends_with(".salesforce.com") || host.ends_with(".force.com"));
    valid.then(|| format!("https://{host}"))
}

fn notification_from_tree(
    position: usize,
    n: &Element,
) -> Result<Notification, UnusableNotification> {
    let id = n.text_of(OUTBOUND_NS, "Id");
    let so = n.child(OUTBOUND_NS, "sObject");
    let object_type = so.and_then(|so| {
        so.xsi_type
            .as_deref()
            .map(|t| t.rsplit(':').next().unwrap_or(t).trim().to_string())
            .filter(|t| !t.is_empty())
    });
    let record_id = so.and_then(|so| {
        so.children
            .iter()
            .find(|f| f.name == "Id" && !f.nil && f.children.is_empty())
            .map(|f| f.text.trim().to_string())
            .filter(|id| !id.is_empty())
    });
    let unusable = |record: Option<(String, String)>, problem| UnusableNotification {
        position,
        id: id.clone(),
        record,
        problem,
    };
    let Some(so) = so.filter(|so| !so.children.is_empty()) else {
        return Err(unusable(None, NotificationProblem::RecordDeleted));
    };
    let Some(record_id) = record_id else {
        return Err(unusable(None, NotificationProblem::NoRecordId));
    };
    let Some(record_id) = normalize_id(&record_id) else {
        return Err(unusable(
            None,
            NotificationProblem::NotASalesforceId(record_id),
        ));
    };
    let Some(object_type) = object_type else {
        return Err(unusable(None, NotificationProblem::NoObjectType));
    };
    let record = Some((object_type.clone(), record_id.clone()));
    if so.children.iter().all(|f| f.name == "Id") {
        return Err(unusable(record, NotificationProblem::RecordDeleted));
    }
    let mut fields = BTreeMap::new();
    for field in &so.children {
        if !field.children.is_empty() {
            return Err(unusable(
                record,
                NotificationProblem::NestedField(field.name.clone()),
            ));
        }
        let value = if field.nil {
            FieldValue::Null
        } else {
            FieldValue::Text(field.text.clone())
        };
        fields.insert(field.name.clone(), value);
    }
    let Some(id) = id.clone() else {
        return Err(unusable(record, NotificationProblem::NoNotificationId));
    };
    match SObject::new(object_type, &record_id, fields) {
        Some(sobject) => Ok(Notification { id, sobject }),
        None => Err(unusable(
            None,
            NotificationProblem::NotASalesforceId(record_id),
        )),
    }
}

/// Whose fault a SOAP Fault is: `Client` when the message or its sender's
/// configuration must change, `Server` when sfsync could not finish and
/// Salesforce should simply retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    Client,
    Server,
}

const ENVELOPE_OPEN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">\n <soapenv:Body>\n";
const ENVELOPE_CLOSE: &str = " </soapenv:Body>\n</soapenv:Envelope>\n";

/// The `notificationsResponse` answer. `true` tells Salesforce to drop the
/// message from its queue; `false` makes it retry.
pub fn ack(value: bool) -> String {
    format!(
        "{ENVELOPE_OPEN}  <notificationsResponse xmlns=\"{OUTBOUND_NS}\">\n   <Ack>{value}</Ack>\n  </notificationsResponse>\n{ENVELOPE_CLOSE}"
    )
}

/// A SOAP 1.1 Fault. Salesforce keeps the message and retries; Setup shows
/// `message` to the admin.
pub fn fault(code: FaultCode, message: &str) -> String {
    let code = match code {
        FaultCode::Client => "soapenv:Client",
        FaultCode::Server => "soapenv:Server",
    };
    format!(
        "{ENVELOPE_OPEN}  <soapenv:Fault>\n   <faultcode>{code}</faultcode>\n   <faultstring>sfsync: {}</faultstring>\n  </soapenv:Fault>\n{ENVELOPE_CLOSE}",
        quick_xml::escape::escape(message)
    )
}

/// Write an Outbound Message the way Salesforce does (no `SessionId`), for
/// trying sfsync without Salesforce (`sfsync send-sample`).
pub fn render_message(organization_id: &str, notifications: &[Notification]) -> String {
    use quick_xml::escape::escape;
    let mut body = String::new();
    for n in notifications {
        body.push_str(&format!(
            "   <Notification>\n    <Id>{}</Id>\n    <sObject xsi:type=\"sf:{}\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">\n",
            escape(n.id.as_str()),
            escape(n.sobject.object_type.as_str())
        ));
        for (name, value) in &n.sobject.fields {
            let name = escape(name.as_str());
            match value {
                FieldValue::Null => body.push_str(&format!("     <sf:{name} xsi:nil=\"true\"/>\n")),
                FieldValue::Text(t) => body.push_str(&format!(
                    "     <sf:{name}>{}</sf:{name}>\n",
                    escape(t.as_str())
                )),
            }
        }
        body.push_str("    </sObject>\n   </Notification>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soapenv:Envelope xmlns:soapenv=\"{SOAP_ENV_NS}\" xmlns:xsi=\"{XSI_NS}\">\n <soapenv:Body>\n  <notifications xmlns=\"{OUTBOUND_NS}\">\n   <OrganizationId>{}</OrganizationId>\n{body}  </notifications>\n </soapenv:Body>\n</soapenv:Envelope>\n",
        escape(organization_id)
    )
}

#[cfg(test)]
mod tests;
