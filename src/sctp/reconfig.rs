//! Stream reconfiguration (RFC 6525): resetting outgoing streams, which is how WebRTC
//! closes a data channel (RFC 8831 §6.7), and answering the peer's resets.

use super::tsn::le;
use super::wire::chunks::reconfig_result as result;
use crate::time::Instant;

/// Most streams named in one request.
const MAX_STREAMS_PER_REQUEST: usize = 256;

/// Our outstanding Outgoing SSN Reset Request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) req_seq: u32,
    pub(crate) resp_seq: u32,
    pub(crate) last_tsn: u32,
    pub(crate) streams: Vec<u16>,
}

/// The peer's request we could not perform yet (its data has not all arrived).
#[derive(Debug, Clone)]
struct Deferred {
    req_seq: u32,
    last_tsn: u32,
    streams: Vec<u16>,
}

/// What the association must do after the peer's request or response.
#[derive(Debug, Default)]
pub(crate) struct Actions {
    /// Incoming streams to reset now (the peer's outgoing reset performed).
    pub(crate) reset_incoming: Vec<u16>,
    /// Our outgoing streams whose reset completed.
    pub(crate) reset_outgoing: Vec<u16>,
}

#[derive(Debug)]
pub(crate) struct Reconfig {
    next_req_seq: u32,
    /// Streams asked to reset and not yet in a request.
    pub(crate) pending: Vec<u16>,
    pub(crate) inflight: Option<Request>,
    /// The request must be (re)sent.
    pub(crate) request_due: bool,
    pub(crate) timer: Option<Instant>,
    peer_next_req_seq: u32,
    last_response: Option<(u32, u32)>,
    deferred: Option<Deferred>,
    /// Responses to send: (response sequence number, result).
    pub(crate) responses: Vec<(u32, u32)>,
}

impl Reconfig {
    /// Request sequence numbers start at the initial TSNs (RFC 6525 §5.1.1).
    pub(crate) fn new(my_initial_tsn: u32, peer_initial_tsn: u32) -> Self {
        Reconfig {
            next_req_seq: my_initial_tsn,
            pending: Vec::new(),
            inflight: None,
            request_due: false,
            timer: None,
            peer_next_req_seq: peer_initial_tsn,
            last_response: None,
            deferred: None,
            responses: Vec::new(),
        }
    }

    /// Makes a request of the pending streams that `drained` says have no data left to
    /// give TSNs to, if none is outstanding (RFC 6525 §5.1.1: one at a time). Returns
    /// the streams of the new request, if one was made.
    pub(crate) fn maybe_request(
        &mut self,
        last_tsn: u32,
        drained: impl Fn(u16) -> bool,
    ) -> Option<&[u16]> {
        if self.inflight.is_some() || self.pending.is_empty() {
            return None;
        }
        let mut streams = Vec::new();
        self.pending.retain(|s| {
            if streams.len() < MAX_STREAMS_PER_REQUEST && drained(*s) {
                streams.push(*s);
                false
            } else {
                true
            }
        });
        if streams.is_empty() {
            return None;
        }
        let req_seq = self.next_req_seq;
        self.next_req_seq = req_seq.wrapping_add(1);
        self.inflight = Some(Request {
            req_seq,
            resp_seq: self.peer_next_req_seq.wrapping_sub(1),
            last_tsn,
            streams,
        });
        self.request_due = true;
        self.inflight.as_ref().map(|r| r.streams.as_slice())
    }

    /// The peer's Outgoing SSN Reset Request (RFC 6525 §5.2.2). `received_through` says
    /// whether every TSN up to one has arrived.
    pub(crate) fn on_outgoing_reset(
        &mut self,
        req_seq: u32,
        last_tsn: u32,
        streams: Vec<u16>,
        received_through: impl Fn(u32) -> bool,
        actions: &mut Actions,
    ) {
        if req_seq == self.peer_next_req_seq {
            if received_through(last_tsn) {
                actions.reset_incoming.extend_from_slice(&streams);
                self.performed(req_seq, result::SUCCESS_PERFORMED);
            } else {
                self.deferred = Some(Deferred {
                    req_seq,
                    last_tsn,
                    streams,
                });
                self.responses.push((req_seq, result::IN_PROGRESS));
            }
        } else if Some(req_seq) == self.last_response.map(|(s, _)| s) {
            // A retransmission of a request we answered: the same answer.
            if let Some(r) = self.last_response {
                self.responses.push(r);
            }
        } else {
            self.responses.push((req_seq, result::ERROR_BAD_SEQUENCE));
        }
    }

    fn performed(&mut self, req_seq: u32, res: u32) {
        self.peer_next_req_seq = req_seq.wrapping_add(1);
        self.last_response = Some((req_seq, res));
        self.responses.push((req_seq, res));
        self.deferred = None;
    }

    /// A request the peer makes that we do not act on (Incoming SSN Reset, Add Streams):
    /// denied, in sequence.
    pub(crate) fn deny(&mut self, req_seq: u32) {
        if req_seq == self.peer_next_req_seq {
            self.performed(req_seq, result::DENIED);
        } else {
            self.responses.push((req_seq, result::ERROR_BAD_SEQUENCE));
        }
    }

    /// More data arrived: a deferred reset may be performable now.
    pub(crate) fn on_data_progress(&mut self, cum_tsn: u32, actions: &mut Actions) {
        let Some(d) = &self.deferred else {
            return;
        };
        if le(d.last_tsn, cum_tsn) {
            let d = d.clone();
            actions.reset_incoming.extend_from_slice(&d.streams);
            // The peer learns of it when it retransmits the request.
            self.peer_next_req_seq = d.req_seq.wrapping_add(1);
            self.last_response = Some((d.req_seq, result::SUCCESS_PERFORMED));
            self.deferred = None;
        }
    }

    /// The peer's response to our request.
    pub(crate) fn on_response(&mut self, resp_seq: u32, res: u32, actions: &mut Actions) {
        let Some(req) = &self.inflight else {
            return;
        };
        if req.req_seq != resp_seq {
            return;
        }
        if res == result::IN_PROGRESS {
            // Asked again when the timer fires.
            return;
        }
        // Performed, nothing to do, or refused: either way the streams are done with.
        if let Some(req) = self.inflight.take() {
            actions.reset_outgoing.extend(req.streams);
        }
        self.timer = None;
        self.request_due = false;
    }

    /// The request timer fired: send it again.
    pub(crate) fn on_timeout(&mut self) {
        if self.inflight.is_some() {
            self.request_due = true;
        }
        self.timer = None;
    }
}
