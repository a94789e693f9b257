"""The conversation aggregate: the thread and its state (access, counts, summary), its entries
(messages, attachments, comments, tasks: a task is a standalone conversation, a subtask of one,
or a tasked conversation), labels, the shared actions of drafts, posts and
``PATCH /v1/conversations`` (close, assign, label, move), target resolution (which conversation
a write lands in), merges, and the views that render a conversation for one user.
"""
