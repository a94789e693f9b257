"""What a team member or an integration writes into a conversation: posts, drafts, sending
(drafts to mail or channel messages, now or at ``send_at``) and sender aliases.
"""
