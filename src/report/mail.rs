//! The SMTP side: one transport per job, built from `[smtp]`, and the message
//! of a report (multipart/alternative: text, then HTML).

use std::time::{Duration, UNIX_EPOCH};

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::render::Rendered;
use super::ReportError;
use crate::config::{SmtpConfig, SmtpTls};

/// `Auto-Submitted: auto-generated` (RFC 3834): no vacation replies to reports.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// Sends messages through the configured server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    /// The transport of a validated `[smtp]` section (nothing is connected yet).
    pub fn new(cfg: &SmtpConfig) -> Result<Mailer, ReportError> {
        let from: Mailbox = cfg
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| {
                ReportError::Config(format!("smtp.from: {e}"))
            })?;
        let tls = match cfg.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_parameters(cfg)?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters(cfg)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host)
            .port(cfg.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(cfg.timeout_secs)));
        if !cfg.user.is_empty() {
            builder = builder.credentials(Credentials::new(cfg.user.clone(), cfg.password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    /// The sender.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Sends one message (one SMTP transaction to every recipient).
    pub async fn send(&self, message: Message) -> Result<(), ReportError> {
        self.transport.send(message).await?;
        Ok(())
    }
}

fn tls_parameters(cfg: &SmtpConfig) -> Result<TlsParameters, ReportError> {
    let mut b = TlsParameters::builder(cfg.host.clone());
    if !cfg.ca_file.as_os_str().is_empty() {
        let pem = std::fs::read(&cfg.ca_file).map_err(|e| {
            ReportError::Config(format!("smtp.ca_file {}: {e}", cfg.ca_file.display()))
        })?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            ReportError::Config(format!(
                "smtp.ca_file {}: not a PEM certificate: {e}",
                cfg.ca_file.display()
            ))
        })?;
        b = b.add_root_certificate(cert);
    }
    b.build()
        .map_err(|e| ReportError::Config(format!("smtp: TLS setup: {e}")))
}

/// The message of a report: From the configured sender, To every recipient,
/// dated by veil's clock, with a `Message-ID` derived from the report's ledger
/// key (a resend in the ledger's crash window carries the same one).
pub fn message(
    from: &Mailbox,
    to: &[String],
    rendered: &Rendered,
    id: &str,
    now_ms: u64,
) -> Result<Message, ReportError> {
    let mut b = Message::builder()
        .from(from.clone())
        .subject(rendered.subject.clone())
        .date(UNIX_EPOCH + Duration::from_millis(now_ms))
        .message_id(Some(format!("<{id}@{}>", from.email.domain())))
        .header(AutoSubmitted);
    for r in to {
        let mailbox: Mailbox = r.parse().map_err(|e: lettre::address::AddressError| {
            ReportError::Config(format!("recipient `{r}`: {e}"))
        })?;
        b = b.to(mailbox);
    }
    Ok(b.multipart(MultiPart::alternative_plain_html(
        rendered.text.clone(),
        rendered.html.clone(),
    ))?)
}
