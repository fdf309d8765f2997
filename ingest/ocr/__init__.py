"""OCR for course pages that have no usable text layer (scans, glyph-code text), with Tesseract.

Kept free of imports: OCR worker processes import ``ingest.ocr.worker`` and nothing else.
"""
