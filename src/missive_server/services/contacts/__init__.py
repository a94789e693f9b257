"""Contact books, their contacts and contact groups (spec 2.4-2.6), and contact search by name,
email and phone.
"""
