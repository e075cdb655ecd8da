"""Adapters to the outside world: WeChat (wechatpy) and QR rendering (qrcode)."""
