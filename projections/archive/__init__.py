"""Single-set electronic archive packages (单套归档, GZ20·24) and the four-property check.

Layer: projections. ``builder`` turns a closed case into a BagIt 1.0 package (RFC 8493),
``checker`` verifies one offline against DA/T 70-2018's four properties (authenticity,
integrity, usability, security), ``service`` wires building to the ledger, the material store
and anchoring. The byte layout is docs/ARCHIVE.md.
"""
