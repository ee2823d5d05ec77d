"""The 差评 work order's steps and deadlines, as pure rules (no Django)."""
