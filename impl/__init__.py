"""ackproof.impl"""
