//! The server's connections: TCP with `TCP_NODELAY`, whose writes send the bodies kept in memory
//! files ([`airlock_service::sendable`]) with sendfile(2), from the file, instead of copying them
//! into the socket from user space. The HTTP layer writes the response head and body as one
//! vectored write; when the body is such a file's bytes, the head goes first with `MSG_MORE`
//! (so head and body leave in the same segments) and the body after it from the file.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use airlock_service::sendable;
use rustix::net::{SendAncillaryBuffer, SendFlags};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Accepts the connections of [`crate::serve`].
pub(crate) struct Listener(pub TcpListener);

impl axum::serve::Listener for Listener {
    type Io = Socket;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Socket, SocketAddr) {
        let (tcp, peer) = axum::serve::Listener::accept(&mut self.0).await;
        // Without TCP_NODELAY the end of a small response waits for the client's delayed ACK
        // (~40 ms per file on a reused connection, as pip and uv use them).
        let _ = tcp.set_nodelay(true);
        (Socket(tcp), peer)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// One connection.
pub(crate) struct Socket(TcpStream);

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // The first slice large enough that is a memory file's, and what comes before it.
        let found = bufs.iter().enumerate().find_map(|(i, buf)| {
            (buf.len() >= sendable::MIN_LEN)
                .then(|| sendable::file_of(buf.as_ptr(), buf.len()))
                .flatten()
                .map(|(file, offset)| (i, file, offset))
        });
        let Some((index, file, offset)) = found else {
            return Pin::new(&mut self.0).poll_write_vectored(cx, bufs);
        };
        let (before, len) = (&bufs[..index], bufs[index].len());
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            let tcp = &self.0;
            match tcp.try_io(Interest::WRITABLE, || send(tcp, before, &file, offset, len)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                written => return Poll::Ready(written),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Writes `before`, then `len` bytes of `file` from `offset`; how many bytes went, counting
/// both (an error only when nothing went: the caller writes the rest again, and meets it then).
fn send(
    tcp: &TcpStream,
    before: &[IoSlice<'_>],
    file: &std::fs::File,
    offset: u64,
    len: usize,
) -> io::Result<usize> {
    let head: usize = before.iter().map(|b| b.len()).sum();
    let mut sent = 0;
    if head > 0 {
        let flags = SendFlags::MORE | SendFlags::NOSIGNAL;
        sent = rustix::net::sendmsg(tcp, before, &mut SendAncillaryBuffer::default(), flags)?;
        if sent < head {
            return Ok(sent);
        }
    }
    let mut offset = offset;
    match rustix::fs::sendfile(tcp, file, Some(&mut offset), len) {
        Ok(n) => Ok(sent + n),
        Err(_) if sent > 0 => Ok(sent),
        Err(e) => Err(e.into()),
    }
}
