"""The storage seam: the ``Database`` interface, its MongoDB and embedded implementations,
stored document shapes, index specs and the client factory.

Every driver call lives here. Nothing here imports strawberry or ``metrics``.
"""
