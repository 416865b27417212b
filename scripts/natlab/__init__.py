"""scripts/nat-lab: p2pchat across real NATs, built from Linux network namespaces.

Run as root (it creates network namespaces). Needs iproute2 (`ip`), nftables
(`nft`) and coturn (`turnserver`); `tc` with the netem qdisc is used for --netem
when the kernel has it (otherwise loss is emulated with nftables and delay is
reported as unavailable). Install with:
    apt-get install -y iproute2 nftables coturn

The lab (every address is private and lives only in namespaces this script makes;
nothing is connected to the host's own network, no route leads out):

                      PREFIX-pub  ("the internet", 100.64.0.0/24 on a bridge)
                 coturn (STUN+TURN) and `p2pchat mailbox` on 100.64.0.1;
                 PREFIX-sink (100.64.0.254) is everyone's default gateway and
                 silently drops whatever is not for the lab's public addresses
              /                       |                        \\
     PREFIX-nat-a (cone)     PREFIX-nat-b (symmetric)     PREFIX-nat-c (cone)
      wan 100.64.0.11          wan 100.64.0.12              wan 100.64.0.13
      lan 10.77.1.1            lan 10.77.2.1                lan 10.77.3.1
            |                         |                          |
     PREFIX-a 10.77.1.2        PREFIX-b 10.77.2.2         PREFIX-c 10.77.3.2

"cone" is plain nftables masquerade: Linux keeps the source port, so the mapping is
endpoint-independent while conntrack filters on address and port (a port-restricted
cone NAT). "symmetric" is `masquerade fully-random`: every new destination gets a
new random port, which defeats hole punching.

Scenarios (p2pchat send in the first namespace, receive in the second):
  direct  a -> c  STUN only           expect "direct" (server-reflexive hole punch)
  relay   a -> b  STUN + TURN (REST)  expect "relay" (the symmetric NAT needs coturn)
  hidden  a -> c  TURN, --relay-only  expect "relay" (hide-my-IP works across NATs too)
With DEFAULT settings (no flags, no settings file; the default servers' names
resolve to lab servers through per-namespace /etc/netns/NAME/hosts), each sending
a 5 MB photo, beside `wormhole send` of the same photo through the same relay:
  default-direct   a -> c  cone <-> cone             expect "direct"
  default-transit  a -> b  cone <-> symmetric        expect "transit"
  default-no-udp   a -> c  all UDP blocked at both   expect "transit"

Output: one line per scenario plus a summary; --json for JSON lines.
Exit status: 0 all scenarios as expected, 1 a scenario failed or chose another path,
77 network namespaces are not permitted here, 78 a required tool is missing,
2 usage. The lab is removed on exit, on failure and on SIGINT/SIGTERM/SIGHUP
(`--cleanup` removes leftovers of a run that was killed with SIGKILL).
"""
