//! How bytes reach a broker: the `Transport` a connection runs over and the
//! `Connector` that opens it. TCP here; TLS and SASL plug in as other connectors.
//!
//! # References
//! - The seed's WAN advice: `socket.send.buffer.bytes` / `socket.receive.buffer.bytes`.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, lookup_host};

/// A byte stream to one broker (TCP, TLS over TCP, ...).
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// Future returned by [`Connector::connect`].
pub type ConnectFuture<'a> =
    Pin<Box<dyn Future<Output = io::Result<Box<dyn Transport>>> + Send + 'a>>;

/// Opens transports; implement this to add TLS or other wrappers without
/// touching any caller.
pub trait Connector: Send + Sync + Debug {
    /// Opens a transport to `host:port`.
    fn connect<'a>(&'a self, addr: &'a str) -> ConnectFuture<'a>;
}

/// Plain TCP with optional socket buffer sizes.
#[derive(Debug, Clone, Default)]
pub struct TcpConnector {
    /// `socket.send.buffer.bytes`; `None` (or -1 in Kafka) keeps the OS default.
    pub send_buffer_bytes: Option<u32>,
    /// `socket.receive.buffer.bytes`; `None` keeps the OS default.
    pub receive_buffer_bytes: Option<u32>,
    /// Time allowed for the TCP handshake.
    pub connect_timeout: Option<Duration>,
}

impl TcpConnector {
    pub(crate) async fn open(&self, addr: &str) -> io::Result<tokio::net::TcpStream> {
        let mut last = io::Error::new(
            io::ErrorKind::NotFound,
            format!("{addr} resolves to no address"),
        );
        for sa in lookup_host(addr).await? {
            let socket = if sa.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            if let Some(n) = self.send_buffer_bytes {
                socket.set_send_buffer_size(n)?;
            }
            if let Some(n) = self.receive_buffer_bytes {
                socket.set_recv_buffer_size(n)?;
            }
            let fut = socket.connect(sa);
            let res = match self.connect_timeout {
                Some(t) => tokio::time::timeout(t, fut).await.unwrap_or_else(|_| {
                    Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
                }),
                None => fut.await,
            };
            match res {
                Ok(s) => {
                    s.set_nodelay(true)?;
                    return Ok(s);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl Connector for TcpConnector {
    fn connect<'a>(&'a self, addr: &'a str) -> ConnectFuture<'a> {
        Box::pin(async move {
            let s = self.open(addr).await?;
            Ok(Box::new(s) as Box<dyn Transport>)
        })
    }
}
