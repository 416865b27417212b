"""scripts/mailbox-load: the embedded mailbox server under load and abuse, on 127.0.0.1.

Starts `p2pchat mailbox --host 127.0.0.1 --port 0` as a subprocess and runs N
concurrent pairings against it, each one what p2pchat does: an inviter (bind,
allocate, claim, open, add "pake", add "version", release, close) and a joiner
(bind, claim the same nameplate, open, add "pake", add "version", release, close),
both waiting for the other side's messages. A client refused by the server's
connection limit (HTTP 503) retries with jittered backoff, as a person would.

At the same time, abusive clients (bounded in count) try to hurt it:
  oversized   one frame far over the server's frame limit
  flood       bind, then thousands of pings as fast as possible, never reading
  half-open   a WebSocket that never binds, and raw TCP that never finishes the handshake
  garbage     invalid JSON / binary frames
Each must be cut off by the server (connection closed) within --abuse-timeout.

Then the audit's nameplate flood (issue 13 §4): one client address opens
--flood-sockets WebSockets (default 2,100) and allocates and claims a nameplate on
each. A normal pairing from another address must still succeed while the flood
holds its sockets, and again right after it disconnects. Every client has its own
loopback address (127.x.y.z; all of 127/8 is this machine), as people on the
internet have theirs, so that the server's per-address limits see them apart.

Reports success rate, pairing time percentiles (inviter connect -> both closed),
retries, how the abusers were cut off, and the server's peak RSS (VmHWM from
/proc/PID/status). Exit status 0 when every limit held: success rate >= --min-success,
every abuser cut off, the pairings during and after the flood succeeded, peak RSS
<= --max-rss-mb, server alive and still serving a fresh pairing at the end;
1 otherwise; 2 usage.

    scripts/mailbox-load                 # 200 pairings
    scripts/mailbox-load -n 1000 --json  # the figures quoted in the issue
"""
