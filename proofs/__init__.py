"""ackproof.proofs"""
