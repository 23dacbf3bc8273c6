"""ackproof.spec"""
