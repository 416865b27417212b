"""`p2pchat demo`: a privacy lesson with two real peers, Alice and Bob, on one machine."""
