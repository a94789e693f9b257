"""What the web inbox needs beyond the API's services: the pages' reads (``inbox``) and the
form actions (``actions``), both calling the same domain services as the API.
"""
