"""Interoperability with other photo tools: XMP sidecars and MWG face regions.

The public entry points live in facealbum.interop.xmp; the other modules are its parts:
rdf (parse and write XMP packets), orientation (EXIF orientation for boxes),
mwg (face regions and people tags inside a packet), embedded (XMP inside photos).
"""
