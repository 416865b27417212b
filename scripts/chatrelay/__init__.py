"""A headless p2pchat bridge between two people, built only on `p2pchat headless`.

The relay runs two `p2pchat headless` processes, side "a" and side "b", pairs
each with one person and passes text and photos between them. Each person
pairs with the relay (they see its label and their own safety number with it),
never with each other: neither learns the other's address or identity key.

What it promises, and how:

* Photos are re-encoded by the relay before they go on: the receiving child
  re-sanitises what arrives (``image`` event), the sending child sanitises
  again on ``send_image``. The relay never passes on bytes it did not
  re-encode.
* View-once items are never forwarded (headless endpoints only ever get a
  ``view_once`` placeholder); both sides are told with a notice.
* Nothing of the conversation outlives a message on disk: a received photo
  sits in a private directory (mode 0700; under $TMPDIR when set, else in RAM
  under /dev/shm when there is one) only until the other child has read it,
  then it is deleted; the directory is removed on exit. Text stays in memory.
* stderr gets only what happened ("a -> b: photo forwarded"), never content.

Usage::

    scripts/relay --invite-both --mailbox ws://127.0.0.1:4000/v1
    # prints "a: <code>" and "b: <code>", one per line, for the two people
    P2PCHAT_CODE_A=... P2PCHAT_CODE_B=... scripts/relay --mailbox ...
    # joins two codes the people made

Exit status: 0 when one side left (the other is told) or the relay was
stopped (SIGINT/SIGTERM), 2 usage, 3 a side could not pair, 4 a side was lost.
"""
