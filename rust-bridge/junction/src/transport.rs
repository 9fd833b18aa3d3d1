//! Transports (ABI 1.2): serving a host's services to other processes
//! ([`HostRef::listen`]) and routing services to the hosts that serve them
//! ([`HostRef::route`]).

use std::ffi::{c_char, CString};
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::time::Duration;

use crate::host::{c_string, lent_string};
use crate::status::check;
use crate::{sys, Code, Deadline, HostRef, Result, Status};

/// Options for [`HostRef::listen`]; every field left alone keeps
/// libjunction's default.
///
/// ```
/// use junction::ListenOptions;
///
/// let options = ListenOptions::new()
///     .services(["rust.echo"])
///     .threads(2)
///     .max_in_flight(64)
///     .max_payload_bytes(1 << 20)
///     .max_unread_answers(256)
///     .max_unread_answer_bytes(64 << 20);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenOptions {
    services: Option<Vec<String>>,
    threads: u32,
    max_in_flight: u32,
    max_payload_bytes: u64,
    max_unread_answers: u64,
    max_unread_answer_bytes: u64,
    curve_secret_key: Option<SecretKey>,
    /// None: no list, any client that knows the listener's key connects;
    /// Some, even empty: only these keys (an empty list is refused).
    curve_client_keys: Option<Vec<String>>,
}

/// A CURVE key pair (ABI 1.8), each key [`sys::JN_CURVE_KEY_LENGTH`] Z85
/// characters: the secret key stays with its owner, the public key is
/// handed to the peers. Its `Debug` hides the secret key.
///
/// ```
/// use junction::{curve_public_key, CurveKeyPair};
///
/// let pair = CurveKeyPair::generate()?;
/// assert_eq!(pair.public_key.len(), 40);
/// assert_eq!(curve_public_key(&pair.secret_key)?, pair.public_key);
/// assert!(!format!("{pair:?}").contains(&pair.secret_key));
/// # Ok::<(), junction::Status>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CurveKeyPair {
    /// Handed to the peers: a route's `curve_server_key`, or a listener's
    /// client list.
    pub public_key: String,
    /// Kept by the key's owner: a listener's `curve_secret_key`, or a
    /// route's pair.
    pub secret_key: String,
}

impl CurveKeyPair {
    /// A new key pair (`jn_curve_keypair`); [`Code::Unimplemented`] when
    /// libzmq was built without CURVE.
    pub fn generate() -> Result<CurveKeyPair> {
        let mut public_key = [0 as c_char; CURVE_KEY_BUFFER];
        let mut secret_key = [0 as c_char; CURVE_KEY_BUFFER];
        let mut status = sys::jn_status::default();
        // SAFETY: both buffers hold JN_CURVE_KEY_LENGTH + 1 bytes, as the
        // function writes; status is an out parameter owned here.
        let code = unsafe {
            sys::jn_curve_keypair(
                public_key.as_mut_ptr(),
                secret_key.as_mut_ptr(),
                &mut status,
            )
        };
        // SAFETY: status is the call's out parameter.
        unsafe { check(code, &mut status) }?;
        // SAFETY: on success both buffers hold NUL-terminated Z85 text.
        Ok(unsafe {
            CurveKeyPair {
                public_key: lent_string(public_key.as_ptr()),
                secret_key: lent_string(secret_key.as_ptr()),
            }
        })
    }
}

impl fmt::Debug for CurveKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurveKeyPair")
            .field("public_key", &self.public_key)
            .field("secret_key", &SecretKey(self.secret_key.clone()))
            .finish()
    }
}

/// The public key of a Z85 secret key (`jn_curve_public_key`), for a
/// listener's operator to hand its clients. [`Code::InvalidArgument`] for a
/// key that is not 40 Z85 characters.
pub fn curve_public_key(secret_key: &str) -> Result<String> {
    let secret_key = key_string(secret_key, "secret key")?;
    let mut public_key = [0 as c_char; CURVE_KEY_BUFFER];
    let mut status = sys::jn_status::default();
    // SAFETY: the secret key is borrowed for the call; the buffer holds
    // JN_CURVE_KEY_LENGTH + 1 bytes; status is an out parameter owned here.
    let code = unsafe {
        sys::jn_curve_public_key(secret_key.as_ptr(), public_key.as_mut_ptr(), &mut status)
    };
    // SAFETY: status is the call's out parameter.
    unsafe { check(code, &mut status) }?;
    // SAFETY: on success the buffer holds NUL-terminated Z85 text.
    Ok(unsafe { lent_string(public_key.as_ptr()) })
}

/// A key buffer as the CURVE functions fill it: the key and its NUL.
const CURVE_KEY_BUFFER: usize = sys::JN_CURVE_KEY_LENGTH as usize + 1;

/// A secret key whose `Debug` does not show it.
#[derive(Clone, Default, PartialEq, Eq)]
struct SecretKey(String);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

/// A key as C takes it; an error does not repeat it (it may be secret).
fn key_string(key: &str, what: &str) -> Result<CString> {
    CString::new(key).map_err(|_| {
        Status::new(
            Code::InvalidArgument,
            format!("the {what} contains a NUL byte"),
        )
    })
}

/// A key as the options pass it: NULL when not given; one given empty is
/// passed on, for libjunction to refuse.
fn optional_key(key: Option<&str>, what: &str) -> Result<Option<CString>> {
    key.map(|key| key_string(key, what)).transpose()
}

fn key_pointer(key: &Option<CString>) -> *const c_char {
    key.as_ref().map_or(std::ptr::null(), |key| key.as_ptr())
}

/// CURVE client keys as C takes them, with the list of pointers to them
/// (NULL for no key) and their count.
struct ClientKeys {
    keys: Vec<CString>,
    pointers: Vec<*const c_char>,
}

impl ClientKeys {
    fn new<S: AsRef<str>>(keys: &[S]) -> Result<ClientKeys> {
        let keys = keys
            .iter()
            .map(|key| key_string(key.as_ref(), "CURVE client key"))
            .collect::<Result<Vec<CString>>>()?;
        let pointers = keys.iter().map(|key| key.as_ptr()).collect();
        Ok(ClientKeys { keys, pointers })
    }

    fn list(&self) -> *const *const c_char {
        if self.pointers.is_empty() {
            std::ptr::null()
        } else {
            self.pointers.as_ptr()
        }
    }

    fn count(&self) -> Result<u32> {
        u32::try_from(self.keys.len())
            .map_err(|_| Status::new(Code::InvalidArgument, "too many CURVE client keys"))
    }
}

impl ListenOptions {
    /// The defaults: every service of the host, 4 threads, 1024 calls in
    /// flight, 64 MiB payloads, 1024 answers or 256 MiB left unread by a
    /// connection.
    pub const fn new() -> ListenOptions {
        ListenOptions {
            services: None,
            threads: 0,
            max_in_flight: 0,
            max_payload_bytes: 0,
            max_unread_answers: 0,
            max_unread_answer_bytes: 0,
            curve_secret_key: None,
            curve_client_keys: None,
        }
    }

    /// Serves only these services (adding to any named before): a call for
    /// any other service is answered [`Code::NotFound`]. A listed service
    /// registered after the listener started is served too. Without this,
    /// the listener serves every service of the host, now or later; with an
    /// empty list, [`HostRef::listen`] refuses ([`Code::InvalidArgument`]).
    pub fn services<I, S>(mut self, names: I) -> ListenOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.services
            .get_or_insert_with(Vec::new)
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// Threads the listener keeps to receive calls and run their handlers
    /// (0, the default, means 4; at most `max_in_flight`). When the last
    /// free one takes a call the listener starts another, so a slow call
    /// never holds up the next; the extra threads end when idle.
    pub const fn threads(mut self, threads: u32) -> ListenOptions {
        self.threads = threads;
        self
    }

    /// Calls served at once (0, the default, means 1024). Beyond them the
    /// listener reads on, queueing up to as many calls again with their
    /// deadlines started, and their cancels; a queued call cancelled or
    /// past its deadline is answered without its handler running. With the
    /// queue full it stops reading until a call ends.
    pub const fn max_in_flight(mut self, calls: u32) -> ListenOptions {
        self.max_in_flight = calls;
        self
    }

    /// The largest request payload accepted, in bytes (0, the default,
    /// means 64 MiB): a larger one is answered [`Code::ResourceExhausted`],
    /// and a ZeroMQ frame larger than it closes the sender's connection.
    pub const fn max_payload_bytes(mut self, bytes: u64) -> ListenOptions {
        self.max_payload_bytes = bytes;
        self
    }

    /// How many answers one connection may leave unread (0, the default,
    /// means 1024; at most [`sys::JN_MAX_UNREAD_ANSWERS`], more is
    /// [`Code::InvalidArgument`] from [`HostRef::listen`]). While that many
    /// wait to be written, the connection's new calls are answered
    /// [`Code::ResourceExhausted`]; at four times as many they are dropped
    /// unanswered (docs/wire.md, "Unread answers").
    pub const fn max_unread_answers(mut self, answers: u64) -> ListenOptions {
        self.max_unread_answers = answers;
        self
    }

    /// How many bytes of answers (headers and payloads) one connection may
    /// leave unread before its new calls are answered
    /// [`Code::ResourceExhausted`] (0, the default, means 256 MiB).
    pub const fn max_unread_answer_bytes(mut self, bytes: u64) -> ListenOptions {
        self.max_unread_answer_bytes = bytes;
        self
    }

    /// Encrypts every connection with CURVE (tcp and ipc; ABI 1.8): the
    /// listener's secret key, in Z85 ([`CurveKeyPair`]). A client must know
    /// the matching public key to connect. [`HostRef::listen`] answers
    /// [`Code::InvalidArgument`] for a key that is not 40 Z85 characters
    /// and for a `zmq+inproc` URL.
    pub fn curve_secret_key(mut self, secret_key: impl Into<String>) -> ListenOptions {
        self.curve_secret_key = Some(SecretKey(secret_key.into()));
        self
    }

    /// Lets in only the clients with these CURVE public keys (adding to any
    /// named before); a client with another key is refused in its handshake
    /// and its calls are answered [`Code::Unavailable`]. Without this, any
    /// client that knows the listener's public key connects; with an empty
    /// list, which would let nobody in, [`HostRef::listen`] refuses
    /// ([`Code::InvalidArgument`]). Needs
    /// [`curve_secret_key`](ListenOptions::curve_secret_key).
    pub fn curve_client_keys<I, S>(mut self, public_keys: I) -> ListenOptions
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.curve_client_keys
            .get_or_insert_with(Vec::new)
            .extend(public_keys.into_iter().map(Into::into));
        self
    }
}

/// Options for [`HostRef::route`]; every field left alone keeps
/// libjunction's default.
///
/// ```
/// use std::time::Duration;
/// use junction::RouteOptions;
///
/// let options = RouteOptions::new()
///     .connect_timeout(Duration::from_millis(250))
///     .max_payload_bytes(1 << 20);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteOptions {
    connect_timeout: Duration,
    max_payload_bytes: u64,
    curve_server_key: Option<String>,
    curve_public_key: Option<String>,
    curve_secret_key: Option<SecretKey>,
}

impl RouteOptions {
    /// The defaults: a one-second connect timeout, 64 MiB payloads.
    pub const fn new() -> RouteOptions {
        RouteOptions {
            connect_timeout: Duration::ZERO,
            max_payload_bytes: 0,
            curve_server_key: None,
            curve_public_key: None,
            curve_secret_key: None,
        }
    }

    /// How long a call waits for a connection that is still being made
    /// before it is answered [`Code::Unavailable`] (zero, the default, means
    /// one second). A peer known to be down answers at once.
    pub const fn connect_timeout(mut self, timeout: Duration) -> RouteOptions {
        self.connect_timeout = timeout;
        self
    }

    /// The largest request sent and response accepted, in bytes (0, the
    /// default, means 64 MiB): a larger request is answered
    /// [`Code::ResourceExhausted`] before it is sent, and a larger response
    /// closes the connection.
    pub const fn max_payload_bytes(mut self, bytes: u64) -> RouteOptions {
        self.max_payload_bytes = bytes;
        self
    }

    /// Encrypts the connection with CURVE (tcp and ipc; ABI 1.8): the
    /// listener's public key, in Z85. The route makes a key pair of its own
    /// for the connection unless given one
    /// ([`curve_key_pair`](RouteOptions::curve_key_pair)). A listener
    /// whose key does not match, or that refuses the route's key, answers
    /// calls [`Code::Unavailable`], saying which.
    pub fn curve_server_key(mut self, public_key: impl Into<String>) -> RouteOptions {
        self.curve_server_key = Some(public_key.into());
        self
    }

    /// The route's own CURVE key pair, for a listener that lets in only the
    /// clients it knows. Needs
    /// [`curve_server_key`](RouteOptions::curve_server_key).
    pub fn curve_key_pair(mut self, pair: &CurveKeyPair) -> RouteOptions {
        self.curve_public_key = Some(pair.public_key.clone());
        self.curve_secret_key = Some(SecretKey(pair.secret_key.clone()));
        self
    }
}

/// A host's services served on one URL, made by [`HostRef::listen`].
///
/// The listener borrows its host: the borrow checker makes it close before
/// the host is freed, which libjunction requires (`jn_host_free` refuses
/// while a listener is open). [`Listener::close`] stops serving and waits
/// (until a deadline) for the calls in flight to be answered; dropping a
/// listener closes it without waiting: calls still in flight have their
/// connections closed (their handlers run to their end all the same, and
/// freeing the host waits for them).
///
/// A `Listener` is `Send + Sync`: its URL is plain data, and closing it
/// needs ownership. It must not be closed or dropped from inside a handler
/// it is running.
pub struct Listener<'host> {
    raw: NonNull<sys::jn_listener>,
    url: String,
    _host: PhantomData<&'host HostRef>,
}

// SAFETY: jn_listener_close may be called from any thread, and needs the
// owned Listener, so it never overlaps another use; nothing else touches
// the raw listener after construction (the URL is copied then).
unsafe impl Send for Listener<'_> {}
// SAFETY: shared references read the copied URL and the listener's
// counts, which jn_listener_stats_get reads atomically from any thread,
// drain it, which jn_listener_drain allows on several threads at once, and
// replace its CURVE client keys, which the listener guards with a lock
// (never with jn_listener_close, which needs the owned Listener).
unsafe impl Sync for Listener<'_> {}

/// What a listener has done since it opened (`jn_listener_stats`); each
/// count only grows. `in_flight`, `threads` and `queued` are not counts but
/// the state when the stats were read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ListenerStats {
    /// Messages taken from its clients, each a call or unreadable as one.
    pub requests: u64,
    /// Answers sent, its refusals included.
    pub answers: u64,
    /// Calls answered [`Code::ResourceExhausted`] because their connection
    /// had too many answers unread (docs/wire.md, "Unread answers").
    pub refused_unread: u64,
    /// Messages dropped unanswered because their connection had even more
    /// answers unread.
    pub dropped_unread: u64,
    /// Messages that could not be read as a call (a header it cannot read
    /// or of another protocol version, a response, a wrong number of
    /// frames), answered with an error where their call id could be read.
    pub unreadable: u64,
    /// Requests whose payload is over the listener's
    /// [`max_payload_bytes`](ListenOptions::max_payload_bytes), answered
    /// [`Code::ResourceExhausted`].
    pub refused_too_large: u64,
    /// Messages being handled.
    pub in_flight: u64,
    /// The listener's threads.
    pub threads: u64,
    /// CURVE handshakes refused because their client's key was not let in.
    pub refused_handshakes: u64,
    /// Calls answered [`Code::PermissionDenied`] because their connection's
    /// CURVE key was taken off the list since it connected
    /// ([`Listener::set_curve_client_keys`]).
    pub refused_client_key: u64,
    /// Calls read and waiting for a call in flight to end: a listener
    /// serving [`max_in_flight`](ListenOptions::max_in_flight) calls reads
    /// on into a queue as deep. Not counted in `in_flight`.
    pub queued: u64,
    /// Queued calls whose turn came after their caller cancelled them or
    /// their deadline passed, answered [`Code::Cancelled`] or
    /// [`Code::DeadlineExceeded`] without their handler running.
    pub answered_unrun: u64,
}

impl Listener<'_> {
    /// The URL the listener is bound to, with the port the system chose
    /// when the URL asked for port 0: what other hosts pass to
    /// [`HostRef::route`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What the listener has done since it opened.
    ///
    /// ```
    /// use junction::{Host, ListenOptions};
    ///
    /// let host = Host::new()?;
    /// let listener = host.listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())?;
    /// assert_eq!(listener.stats().requests, 0);
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn stats(&self) -> ListenerStats {
        let mut raw = sys::jn_listener_stats {
            struct_size: std::mem::size_of::<sys::jn_listener_stats>() as u32,
            ..Default::default()
        };
        // SAFETY: this listener is open (closing it takes ownership), and
        // raw is a jn_listener_stats of the size it states. An open listener
        // and that size are all the call checks, so it cannot fail.
        unsafe { sys::jn_listener_stats_get(self.raw.as_ptr(), &mut raw) };
        ListenerStats {
            requests: raw.requests,
            answers: raw.answers,
            refused_unread: raw.refused_unread,
            dropped_unread: raw.dropped_unread,
            unreadable: raw.unreadable,
            refused_too_large: raw.refused_too_large,
            in_flight: raw.in_flight,
            threads: raw.threads,
            refused_handshakes: raw.refused_handshakes,
            refused_client_key: raw.refused_client_key,
            queued: raw.queued,
            answered_unrun: raw.answered_unrun,
        }
    }

    /// Lets in the CURVE clients whose public keys are `public_keys`, and
    /// no other, from now on: new connections are checked in their
    /// handshake, and the calls of connections made before with a key no
    /// longer listed are answered [`Code::PermissionDenied`] (ZeroMQ checks
    /// a key only when a connection is made; the listener checks it again
    /// at each call). A key added connects at its route's next attempt.
    ///
    /// Fails, changing nothing, with [`Code::FailedPrecondition`] for a
    /// listener without CURVE and [`Code::InvalidArgument`] for no key (a
    /// list that lets nobody in) or a key that is not 40 Z85 characters.
    ///
    /// ```
    /// use junction::{CurveKeyPair, Host, ListenOptions};
    ///
    /// let host = Host::new()?;
    /// let server_keys = CurveKeyPair::generate()?;
    /// let (old_client, new_client) = (CurveKeyPair::generate()?, CurveKeyPair::generate()?);
    /// let options = ListenOptions::new()
    ///     .curve_secret_key(server_keys.secret_key.clone())
    ///     .curve_client_keys([old_client.public_key]);
    /// let listener = host.listen("zmq+tcp://127.0.0.1:0", &options)?;
    /// // The old client's key is revoked, the new one's let in.
    /// listener.set_curve_client_keys([new_client.public_key])?;
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn set_curve_client_keys<I, S>(&self, public_keys: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys: Vec<S> = public_keys.into_iter().collect();
        let client_keys = ClientKeys::new(&keys)?;
        let mut status = sys::jn_status::default();
        // SAFETY: this listener is open (closing it takes ownership), and
        // jn_listener_set_curve_client_keys may run beside stats reads,
        // drains and itself; the keys are borrowed for the call; status is
        // an out parameter owned here.
        let code = unsafe {
            sys::jn_listener_set_curve_client_keys(
                self.raw.as_ptr(),
                client_keys.list(),
                client_keys.count()?,
                &mut status,
            )
        };
        // SAFETY: status is the call's out parameter.
        unsafe { check(code, &mut status) }
    }

    /// Drains the listener and keeps it: calls that arrive from now on are
    /// answered [`Code::Unavailable`], and this waits until no call is in
    /// flight or `drain` passes. Its [`url`](Self::url) and
    /// [`stats`](Self::stats) stay readable (counting the calls the drain
    /// waited for) until [`close`](Self::close), which may be given the same
    /// deadline. Fails with [`Code::DeadlineExceeded`] when the deadline
    /// passed first; those calls run on. Called from a handler this listener
    /// is running, it waits for the other calls in flight: that handler's
    /// call is answered when it returns.
    ///
    /// ```
    /// use std::time::Duration;
    /// use junction::{Deadline, Host, ListenOptions};
    ///
    /// let host = Host::new()?;
    /// let listener = host.listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())?;
    /// let drain = Deadline::after(Duration::from_secs(5));
    /// listener.drain(drain)?;
    /// println!("{} calls answered", listener.stats().answers);
    /// listener.close(drain)?;
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn drain(&self, drain: Deadline) -> Result<()> {
        // SAFETY: this listener is open (closing it takes ownership), and
        // jn_listener_drain may run beside other drains and stats reads.
        let code = unsafe { sys::jn_listener_drain(self.raw.as_ptr(), drain.as_ns()) };
        match Code::from_raw(code) {
            Code::Ok => Ok(()),
            Code::DeadlineExceeded => Err(Status::new(
                Code::DeadlineExceeded,
                format!(
                    "listener {} still had calls in flight at the drain deadline",
                    self.url
                ),
            )),
            other => Err(Status::new(
                other,
                format!("draining listener {} failed", self.url),
            )),
        }
    }

    /// Stops serving: calls that arrive from now on are answered
    /// [`Code::Unavailable`], and calls in flight run to their end and are
    /// answered, until `drain` ([`Deadline::none`] waits for all of them;
    /// a deadline that has passed does not wait). Fails with
    /// [`Code::DeadlineExceeded`] when the deadline cut the drain short:
    /// the callers of the calls still in flight see their connection close.
    /// Called from a handler this listener is running, it waits for the
    /// other calls in flight, and that handler's caller sees its connection
    /// close.
    ///
    /// ```
    /// use std::time::Duration;
    /// use junction::{Deadline, Host, ListenOptions};
    ///
    /// let host = Host::new()?;
    /// let listener = host.listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())?;
    /// assert!(listener.url().starts_with("zmq+tcp://127.0.0.1:"));
    /// listener.close(Deadline::after(Duration::from_secs(5)))?;
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn close(self, drain: Deadline) -> Result<()> {
        let mut this = std::mem::ManuallyDrop::new(self);
        // Taken, so that nothing is left to drop (Drop does not run).
        let url = std::mem::take(&mut this.url);
        // SAFETY: this listener is open and owned; it is never used again.
        let code = unsafe { sys::jn_listener_close(this.raw.as_ptr(), drain.as_ns()) };
        match Code::from_raw(code) {
            Code::Ok => Ok(()),
            Code::DeadlineExceeded => Err(Status::new(
                Code::DeadlineExceeded,
                format!(
                    "listener {url} closed at the drain deadline before every call in flight was answered"
                ),
            )),
            other => Err(Status::new(other, format!("closing listener {url} failed"))),
        }
    }
}

impl Drop for Listener<'_> {
    /// Closes the listener without waiting for the calls in flight.
    fn drop(&mut self) {
        // SAFETY: open and owned; a deadline of 0 does not wait.
        unsafe { sys::jn_listener_close(self.raw.as_ptr(), 0) };
    }
}

impl fmt::Debug for Listener<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener").field("url", &self.url).finish()
    }
}

impl HostRef {
    /// Serves this host's services on `url` until the listener is closed or
    /// dropped. URLs name the transport:
    ///
    /// | URL | transport |
    /// |---|---|
    /// | `zmq+tcp://127.0.0.1:7000` | TCP; port 0 lets the system choose ([`Listener::url`]) |
    /// | `zmq+ipc:///run/app/svc.sock` | a Unix domain socket at an absolute path |
    /// | `zmq+inproc://name` | within this process only |
    ///
    /// The listener binds exactly the address it is given (use loopback
    /// unless other machines should reach it). Calls arrive on the
    /// listener's threads and run the handlers as in-process calls do, with
    /// the caller's deadline; the wire protocol is `docs/wire.md`.
    ///
    /// Fails with [`Code::InvalidArgument`] for a URL junction cannot read
    /// (or holding a NUL byte) or an empty service list, and
    /// [`Code::Unavailable`] when the address cannot be bound (in use, no
    /// permission, not an address of this machine).
    ///
    /// ```
    /// use std::time::Duration;
    /// use junction::{Deadline, Host, ListenOptions, RouteOptions, Service};
    ///
    /// // One host serves "greeter" ...
    /// let server = Host::new()?;
    /// server.register(Service::new("greeter").method("hello", |request: &[u8], _| {
    ///     Ok([b"hello, ".as_slice(), request].concat())
    /// }))?;
    /// let listener = server.listen("zmq+inproc://doc-greeter", &ListenOptions::new())?;
    ///
    /// // ... another routes it there and calls it as if it were local.
    /// let client = Host::new()?;
    /// client.route("greeter", listener.url(), &RouteOptions::new())?;
    /// let hello = client.resolve("greeter", "hello")?;
    /// let response = hello.call(b"junction", Deadline::after(Duration::from_secs(5)))?;
    /// assert_eq!(response, b"hello, junction");
    ///
    /// listener.close(Deadline::none())?; // before its host is freed
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn listen(&self, url: &str, options: &ListenOptions) -> Result<Listener<'_>> {
        let url = c_string(url, "URL")?;
        let services = match &options.services {
            None => None,
            Some(names) if names.is_empty() => {
                return Err(Status::new(
                    Code::InvalidArgument,
                    "the service list is empty (leave it out to serve every service)",
                ))
            }
            Some(names) => Some(
                names
                    .iter()
                    .map(|name| c_string(name, "service name"))
                    .collect::<Result<Vec<CString>>>()?,
            ),
        };
        let pointers: Option<Vec<*const c_char>> = services
            .as_ref()
            .map(|names| names.iter().map(|name| name.as_ptr()).collect());
        let service_count = match &pointers {
            Some(pointers) => u32::try_from(pointers.len())
                .map_err(|_| Status::new(Code::InvalidArgument, "too many services in the list"))?,
            None => 0,
        };
        let secret_key = optional_key(
            options.curve_secret_key.as_ref().map(|key| key.0.as_str()),
            "CURVE secret key",
        )?;
        // libjunction reads no list (NULL) as "any client may connect", so
        // a list given empty must not reach it as NULL.
        let client_keys = match options.curve_client_keys.as_deref() {
            None => ClientKeys::new::<&str>(&[])?,
            Some([]) => {
                return Err(Status::new(
                    Code::InvalidArgument,
                    "the CURVE client key list is empty (leave it out to let any client in)",
                ))
            }
            Some(keys) => ClientKeys::new(keys)?,
        };
        let raw_options = sys::jn_listen_options {
            struct_size: std::mem::size_of::<sys::jn_listen_options>() as u32,
            threads: options.threads,
            services: pointers
                .as_ref()
                .map_or(std::ptr::null(), |pointers| pointers.as_ptr()),
            service_count,
            max_in_flight: options.max_in_flight,
            max_payload_bytes: options.max_payload_bytes,
            max_unread_answers: options.max_unread_answers,
            max_unread_answer_bytes: options.max_unread_answer_bytes,
            curve_secret_key: key_pointer(&secret_key),
            curve_client_keys: client_keys.list(),
            curve_client_key_count: client_keys.count()?,
            reserved: 0,
        };
        let mut raw = std::ptr::null_mut();
        let mut status = sys::jn_status::default();
        // SAFETY: the host is live; the URL, the options and the names they
        // point to are borrowed for the call; raw and status are out
        // parameters owned here.
        let code = unsafe {
            sys::jn_host_listen(
                self.as_raw(),
                url.as_ptr(),
                &raw_options,
                &mut raw,
                &mut status,
            )
        };
        // SAFETY: status is the call's out parameter.
        unsafe { check(code, &mut status) }?;
        let raw = NonNull::new(raw)
            .ok_or_else(|| Status::new(Code::Internal, "jn_host_listen returned no listener"))?;
        // SAFETY: the listener is open; its URL is a NUL-terminated string
        // valid until it is closed, and copied here.
        let url = unsafe {
            let url = sys::jn_listener_url(raw.as_ptr());
            if url.is_null() {
                String::new()
            } else {
                lent_string(url)
            }
        };
        Ok(Listener {
            raw,
            url,
            _host: PhantomData,
        })
    }

    /// Routes `service` to the host serving it at `url` (a [`Listener`]'s
    /// URL, or a `junction-host` daemon's): every method of `service` then
    /// resolves ([`HostRef::resolve`]) and calls on it go to that host. The
    /// calling code is the same as for a local service: requests,
    /// responses, status codes and messages, and deadlines all travel.
    ///
    /// Routes to one URL with equal options share one connection, which
    /// carries many calls at once and reconnects by itself. A peer that is
    /// down, or dies mid-call, answers [`Code::Unavailable`] (or
    /// [`Code::DeadlineExceeded`] at the call's deadline), never a hang. A
    /// route keeps at most 4096 methods: past that, resolving a new name
    /// drops those no [`Method`](crate::Method) or call holds (and their
    /// statistics), and is [`Code::ResourceExhausted`] only while all 4096
    /// are held.
    ///
    /// The route is registered like a service: [`Code::AlreadyExists`] if
    /// the name is taken, and [`HostRef::unregister`] removes it.
    /// [`Code::InvalidArgument`] for a URL junction cannot read, or a name
    /// or URL holding a NUL byte.
    ///
    /// ```
    /// use std::time::Duration;
    /// use junction::{Code, Deadline, Host, RouteOptions};
    ///
    /// // Nothing listens there: calls answer UNAVAILABLE, promptly.
    /// let host = Host::new()?;
    /// let options = RouteOptions::new().connect_timeout(Duration::from_millis(100));
    /// host.route("far.away", "zmq+ipc:///nonexistent/junction-doc.sock", &options)?;
    /// let call = host.resolve("far.away", "anything")?;
    /// let error = call.call(b"", Deadline::after(Duration::from_secs(10))).unwrap_err();
    /// assert_eq!(error.code(), Code::Unavailable);
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn route(&self, service: &str, url: &str, options: &RouteOptions) -> Result<()> {
        let service = c_string(service, "service name")?;
        let url = c_string(url, "URL")?;
        let connect_timeout_ns = i64::try_from(options.connect_timeout.as_nanos())
            .map_err(|_| Status::new(Code::InvalidArgument, "the connect timeout is too long"))?;
        let server_key = optional_key(options.curve_server_key.as_deref(), "CURVE server key")?;
        let public_key = optional_key(options.curve_public_key.as_deref(), "CURVE public key")?;
        let secret_key = optional_key(
            options.curve_secret_key.as_ref().map(|key| key.0.as_str()),
            "CURVE secret key",
        )?;
        let raw_options = sys::jn_route_options {
            struct_size: std::mem::size_of::<sys::jn_route_options>() as u32,
            reserved: 0,
            connect_timeout_ns,
            max_payload_bytes: options.max_payload_bytes,
            curve_server_key: key_pointer(&server_key),
            curve_public_key: key_pointer(&public_key),
            curve_secret_key: key_pointer(&secret_key),
        };
        let mut status = sys::jn_status::default();
        // SAFETY: the host is live; the names and options are borrowed for
        // the call; status is an out parameter owned here.
        let code = unsafe {
            sys::jn_host_route(
                self.as_raw(),
                service.as_ptr(),
                url.as_ptr(),
                &raw_options,
                &mut status,
            )
        };
        // SAFETY: status is the call's out parameter.
        unsafe { check(code, &mut status) }
    }

    /// What the connection of the route `service` is doing
    /// (`jn_host_route_stats`, ABI 1.7). Routes to one URL with equal
    /// options share one connection, and report the same.
    /// [`Code::NotFound`] when `service` is not a route.
    ///
    /// ```
    /// use junction::{Host, RouteOptions, RouteState};
    ///
    /// let host = Host::new()?;
    /// host.route("far.away", "zmq+inproc://junction-doc-nobody", &RouteOptions::new())?;
    /// let stats = host.route_stats("far.away")?;
    /// assert_eq!(stats.state, RouteState::Down); // nothing listens there
    /// assert_eq!(stats.in_flight, 0);
    /// # Ok::<(), junction::Status>(())
    /// ```
    pub fn route_stats(&self, service: &str) -> Result<RouteStats> {
        let name = c_string(service, "service name")?;
        let mut raw = sys::jn_route_stats {
            struct_size: std::mem::size_of::<sys::jn_route_stats>() as u32,
            ..Default::default()
        };
        // SAFETY: the host is live; the name is borrowed for the call; raw
        // is a jn_route_stats of the size it states.
        let code = unsafe { sys::jn_host_route_stats(self.as_raw(), name.as_ptr(), &mut raw) };
        if code != sys::JN_OK as i32 {
            return Err(Status::new(
                Code::from_raw(code),
                format!("{service:?} is not a route"),
            ));
        }
        Ok(RouteStats {
            state: match raw.state {
                sys::JN_ROUTE_READY => RouteState::Ready,
                sys::JN_ROUTE_CONNECTING => RouteState::Connecting,
                _ => RouteState::Down,
            },
            connections_lost: raw.connections_lost,
            in_flight: raw.in_flight,
        })
    }
}

/// The state of a route's connection ([`RouteStats::state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteState {
    /// Being made: at first, or again after a loss.
    Connecting,
    /// Up: calls go out at once.
    Ready,
    /// The last attempt failed, the connection was lost or the listener
    /// stopped answering: calls are answered [`Code::Unavailable`] until it
    /// is up again (it is made again by itself).
    Down,
}

/// What a route's connection is doing ([`HostRef::route_stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RouteStats {
    /// The connection's state when read.
    pub state: RouteState,
    /// Connections lost (or listeners judged silent) since it was first
    /// made.
    pub connections_lost: u64,
    /// Calls sent on it and not yet answered, when read.
    pub in_flight: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Host;

    #[test]
    fn thread_safety() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Listener<'static>>();
        assert_send_sync::<ListenOptions>();
        assert_send_sync::<RouteOptions>();
    }

    #[test]
    fn options_accumulate() {
        let options = ListenOptions::new().services(["a"]).services(vec!["b"]);
        assert_eq!(options.services, Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(ListenOptions::new(), ListenOptions::default());
        assert_eq!(RouteOptions::new(), RouteOptions::default());
    }

    #[test]
    fn bad_arguments_are_refused_before_the_call() {
        let host = Host::new().unwrap();
        let nul = host.listen("zmq+inproc://a\0b", &ListenOptions::new());
        assert_eq!(nul.unwrap_err().code(), Code::InvalidArgument);
        let empty = ListenOptions::new().services(Vec::<String>::new());
        let error = host.listen("zmq+inproc://unit-empty", &empty).unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        let nul_service = ListenOptions::new().services(["a\0"]);
        let error = host
            .listen("zmq+inproc://unit-nul", &nul_service)
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        let options = RouteOptions::new();
        let error = host.route("a\0", "zmq+inproc://x", &options).unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        let error = host.route("a", "zmq+inproc://x\0", &options).unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        let forever = RouteOptions::new().connect_timeout(Duration::MAX);
        let error = host.route("a", "zmq+inproc://x", &forever).unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
    }
}
