"""Writes the PDF fixtures: the Routewise example's `security.pdf`, a real text PDF, and `broken/corrupt.pdf`.

The security overview is set like a vendor's document (title, bold headings in a larger size,
a footer on every page) so the reader's heading detection and footer removal meet what real
PDFs do. The output is deterministic: run it again after editing the text below and commit both.

    .venv/bin/python -m tests.knowledge.make_pdf
"""

from __future__ import annotations

import datetime as dt

from fpdf import FPDF

from tests.knowledge import CORRUPT_PDF, DOCS

__all__ = ["SECTIONS", "TITLE", "main"]

TITLE = "Routewise security overview"
SECTIONS: list[tuple[str, str]] = [
    (
        "Overview",
        "Fleets trust Routewise with their customers' names, addresses and delivery history. This "
        "document describes how that data is protected, where it is kept and how long it is kept. "
        "It is reviewed by our security team every six months.",
    ),
    (
        "Single sign-on",
        "Staff can sign in to Routewise through your company's identity provider instead of a "
        "separate password. We support single sign-on over SAML 2.0 with Okta, Microsoft Entra ID "
        "(formerly Azure Active Directory), Google Workspace and OneLogin. When single sign-on is "
        "enforced, password sign-in is switched off for everyone except one emergency administrator "
        "account. Accounts can be created and removed automatically from the identity provider "
        "through SCIM, so a person who leaves your company loses access the same day. Single "
        "sign-on is part of the Enterprise plan.",
    ),
    (
        "Roles and two-step sign-in",
        "Every user has a role: administrators manage billing, users and integrations; "
        "dispatchers plan and change routes; viewers can only read the live map and reports. "
        "Administrators can require two-factor authentication for everyone, using an "
        "authenticator app or a hardware security key. Sessions end after 12 hours, or sooner if "
        "your administrator sets a shorter limit.",
    ),
    (
        "Encryption",
        "All traffic between browsers, the driver app and our servers is encrypted with TLS 1.2 "
        "or newer. Data at rest, including database backups and proof-of-delivery photos, is "
        "encrypted with AES-256. Encryption keys are held in a managed key service and rotated "
        "every year.",
    ),
    (
        "Data residency",
        "Routewise runs on Amazon Web Services. By default, accounts are hosted in the United "
        "States (North Virginia). Enterprise customers can choose to keep all of their data in the "
        "European Union, in the Frankfurt region; it is then stored and processed only there, "
        "including backups.",
    ),
    (
        "Compliance and certifications",
        "Routewise is audited every year against SOC 2 Type II by an independent firm; the latest "
        "report is available under a non-disclosure agreement. We comply with the GDPR and the UK "
        "GDPR, and sign a data processing agreement with any customer who asks. Our list of "
        "subprocessors is published, and customers are told 30 days before a new one is added.",
    ),
    (
        "Backups and disaster recovery",
        "Databases are backed up every hour and backups are kept for 35 days in a second "
        "availability zone. Restoring from backup is rehearsed every quarter. Our recovery targets "
        "are at most one hour of lost data and four hours to restore service after a disaster.",
    ),
    (
        "Data retention and deletion",
        "Your data stays yours. Routes, stops, customers and proof of delivery can be exported at "
        "any time as CSV files. When an account is closed, its data is kept for 90 days in case "
        "you change your mind and then permanently deleted, backups included. On written request "
        "we delete it sooner, within 30 days, and confirm the deletion in writing.",
    ),
    (
        "Availability commitment",
        "We aim for 99.9 percent availability every month on every plan, measured from outside "
        "our network. Enterprise contracts make this a service level agreement: if availability "
        "falls below 99.9 percent in a month the customer receives a credit of 10 percent of that "
        "month's fee, and 25 percent below 99.0 percent. Planned maintenance is announced 72 hours "
        "ahead and scheduled outside business hours in your region.",
    ),
    (
        "Vulnerability management",
        "An independent firm runs a penetration test of the web application, the API and the "
        "driver app every year, and we fix findings by severity within fixed deadlines. Security "
        "researchers can report vulnerabilities through our disclosure programme. Dependencies "
        "are scanned daily and critical patches are deployed within 72 hours.",
    ),
]


class _Document(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 8, f"{TITLE} - page {self.page_no()}", align="C")


def security_pdf() -> bytes:
    # A5 pages, so sections run on from one page to the next as in longer documents.
    pdf = _Document(format=(148, 210))
    # Fixed metadata, so the file only changes when its text does.
    pdf.set_creation_date(dt.datetime(2026, 1, 15, tzinfo=dt.UTC))
    pdf.set_producer("tests/knowledge/make_pdf.py")
    pdf.set_title(TITLE)
    pdf.set_margins(16, 16, 16)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 10, TITLE)
    pdf.ln(4)
    for heading, body in SECTIONS:
        pdf.set_font("Helvetica", "B", 13)
        pdf.multi_cell(0, 8, heading)
        pdf.ln(1)
        pdf.set_font("Helvetica", "", 10.5)
        pdf.multi_cell(0, 5.5, body)
        pdf.ln(4)
    return bytes(pdf.output())


def corrupt_pdf(good: bytes) -> bytes:
    """A PDF cut short inside its first page's content: what an interrupted upload leaves."""
    return good[: len(good) // 3]


def main() -> None:
    good = security_pdf()
    (DOCS / "security.pdf").write_bytes(good)
    CORRUPT_PDF.parent.mkdir(exist_ok=True)
    CORRUPT_PDF.write_bytes(corrupt_pdf(good))


if __name__ == "__main__":
    main()
