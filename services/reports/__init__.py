"""The consolidated report (báo cáo tổng hợp) that SNgV sends the UBND tỉnh, as a Word document.

`data` gathers a pure `ReportData` from the read models; `docx_report` renders it (no database)."""
