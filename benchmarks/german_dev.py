"""German renderings of 66 lmos-router train.csv queries (6 for each of the 11 agents,
drawn at random with seed 7), written for fitting the German path of the router
(routing/glossary.py). The 66-query German check in bench_routing.py measures; these are
what its constants are fitted on, so no check query shapes them."""

# (German, the train.csv original, agent)
GERMAN_DEV = [
    ("Informationen in meinem Privatkonto aktualisieren", "updating informtaion on Personal account", "account-agent"),
    ("neues Freemium-Konto", "new freemium account", "account-agent"),
    (
        "Ich hätte gern Informationen zur Eröffnung eines Platinkontos",
        "I'd like informatoin about opening platinum accounts",
        "account-agent",
    ),
    (
        "Ich habe ein Problem beim Anlegen eines Privatkontos",
        "I have problem with creating a Personal account",
        "account-agent",
    ),
    (
        "Hilfe beim Wiederherstellen der PIN meines Benutzerkontos",
        "assistance recovering my user account PIN",
        "account-agent",
    ),
    ("Wo bekomme ich meinen Profilschlüssel?", "where do i retrieve my profile key", "account-agent"),
    (
        "Ich möchte die Stornierungskosten sehen, helfen Sie mir",
        "I want to see the cancellation charges, help me",
        "cancel-agent",
    ),
    ("Ich brauche Hilfe beim Prüfen der Rücktrittsgebühren", "needc help checking the withdrawal fees", "cancel-agent"),
    (
        "Ich brauche Unterstützung, um die Kündigungsgebühren einzusehen",
        "i need assistance seeing the termination fees",
        "cancel-agent",
    ),
    (
        "Hilfe beim Prüfen der Gebühr für eine vorzeitige Kündigung",
        "help to check the early termination charge",
        "cancel-agent",
    ),
    (
        "Ich muss die Kündigungsgebühr prüfen, wie mache ich das?",
        "I need to check the termination charge, how to do it?",
        "cancel-agent",
    ),
    (
        "Ich finde die verdammte Gebühr für den vorzeitigen Ausstieg nicht, kannst du mir helfen",
        "i cant find the bloody early exit fee could yahelp me",
        "cancel-agent",
    ),
    ("Ich weiß nicht, wie ich mit jemandem chatten kann", "i dont know how to chat with someone", "contact-agent"),
    ("Ich muss jemanden kontaktieren", "I need to contact someone", "contact-agent"),
    (
        "Kann ich nachsehen, zu welchen Zeiten ich den Kundenservice erreiche?",
        "can i check what hours i can contact customer service",
        "contact-agent",
    ),
    (
        "Sie helfen mir nicht, ich will mit einem Mitarbeiter sprechen",
        "you are not being helpful, speak to an assistant",
        "contact-agent",
    ),
    ("Was muss ich tun, um mit jemandem zu sprechen?", "what do I need to do to speak with somebody?", "contact-agent"),
    ("Ich brauche Hilfe, um mit jemandem zu reden", "i need assistance to talk to somebody", "contact-agent"),
    (
        "Ich muss sehen, wann mein Produkt ankommt, helfen Sie mir",
        "I need to see when will my product arrive, help me",
        "delivery-agent",
    ),
    (
        "Wie kann ich prüfen, wie lange mein Paket bis zur Ankunft braucht?",
        "how could I check how long it takes for my parcel to arrive?",
        "delivery-agent",
    ),
    ("Kann ich aus den USA bestellen?", "could i order from USA", "delivery-agent"),
    ("Ich brauche Hilfe, um die Versandarten zu prüfen", "need help to check the shipment methods", "delivery-agent"),
    ("Kann ich eine Bestellung aus New York aufgeben?", "can i place an oeder from New York", "delivery-agent"),
    (
        "Hilf mir nachzusehen, wie lange mein Paket unterwegs ist",
        "help me check how long it takes for my package to arrive",
        "delivery-agent",
    ),
    (
        "Können Sie mir helfen, eine Kundenbeschwerde einzureichen?",
        "can you help me to make a customer complaint?",
        "feedback-agent",
    ),
    (
        "Habt ihr eine Adresse, an die ich Feedback schicken kann?",
        "ya have an address to submit some feednack",
        "feedback-agent",
    ),
    (
        "Ich bin mit Ihrer Arbeit unzufrieden, wie reiche ich eine Kundenreklamation ein?",
        "I am unhappy with your work, how to make a customer claim?",
        "feedback-agent",
    ),
    (
        "Können Sie mir helfen, eine Beschwerde gegen Ihr Unternehmen einzulegen?",
        "could you help me lodge a claim against your business?",
        "feedback-agent",
    ),
    (
        "Gibt es eine Möglichkeit, meine Meinung über Ihre Firma abzugeben?",
        "uhave a method to submit an opinion for ur company",
        "feedback-agent",
    ),
    (
        "Ich brauche Hilfe, um eine Reklamation gegen Ihre Firma einzureichen",
        "I need help to file a reclamation against your company",
        "feedback-agent",
    ),
    (
        "Können Sie mir helfen, die Rechnung von Frau Müller herunterzuladen?",
        "can uhelp me downloading the invoice from {{Person Name}}",
        "invoice-agent",
    ),
    (
        "Was muss ich tun, um meine Rechnung Nr. 00108 herunterzuladen?",
        "what do i need to do to dowjload my bill #00108",
        "invoice-agent",
    ),
    (
        "Ich möchte Hilfe, um die Rechnung Nr. 12588 zu bekommen",
        "I want assistance getting bill #12588",
        "invoice-agent",
    ),
    (
        "Ich weiß nicht, was ich tun muss, um Rechnung 00108 zu erhalten",
        "I do not know what to do to get bill #00108",
        "invoice-agent",
    ),
    ("Wie bekomme ich Rechnung Nr. 37777?", "how to get bill #37777", "invoice-agent"),
    (
        "Hilfe beim Herunterladen meiner Rechnungen von Herrn Schmidt",
        "assistance downloading my invoices from {{Person Name}}",
        "invoice-agent",
    ),
    (
        "Ich kann mir Bestellung 123456 nicht mehr leisten, stornieren Sie sie",
        "I can no longer afford order 123456, cancel it",
        "order-agent",
    ),
    (
        "Ich muss einen Artikel zur Bestellung 123456 hinzufügen",
        "I have got to add a product to order 123456",
        "order-agent",
    ),
    ("Ich versuche, die Bestellung 123456 zu stornieren", "I'm trying to cancel order 123456", "order-agent"),
    ("Ich versuche, ein paar Artikel zu kaufen", "i try to acquire some items", "order-agent"),
    (
        "Ich habe einen Artikel bestellt, stornieren Sie den Kauf 123456",
        "I ordered some item, cancel purchase 123456",
        "order-agent",
    ),
    ("Wo kann ich Produkte kaufen?", "where do I purchase some products?", "order-agent"),
    (
        "Hilfe beim Melden eines verdammten Zahlungsproblems",
        "help informing of a fucking payment problem",
        "payment-agent",
    ),
    (
        "Können Sie mir die akzeptierten Zahlungsoptionen zeigen?",
        "can you help me see the accepted payment options?",
        "payment-agent",
    ),
    ("Ich versuche, Probleme mit der Zahlung zu melden", "I am trying to inform of payment problems", "payment-agent"),
    (
        "Ich kann keine Zahlung leisten, hilf mir, das Problem zu melden",
        "i cannot make a payment help me inform of fucking issues",
        "payment-agent",
    ),
    ("Probleme mit Zahlungen", "problem with payments", "payment-agent"),
    (
        "Ich möchte Hilfe, um zu sehen, welche Zahlungsoptionen erlaubt sind",
        "I want help seeing what payment options are allowed",
        "payment-agent",
    ),
    (
        "Können Sie mir zeigen, in welchen Fällen ich eine Erstattung beantragen kann?",
        "can you show me in which situations can I request refunds?",
        "refund-agent",
    ),
    ("Ich erwarte eine Gutschrift von 50 Dollar", "i expect a rebate of $50 dollars", "refund-agent"),
    ("Hilfe, um mein Geld erstattet zu bekommen", "help getting a reimbursement of my money", "refund-agent"),
    ("Ich erwarte einen Nachlass von 50 Dollar", "I expect a rebate of $50 dollars", "refund-agent"),
    (
        "Was muss ich tun, um eine Rückerstattung meines Geldes zu verlangen?",
        "whzt do i need to do to ask for reimbursements of money",
        "refund-agent",
    ),
    (
        "Was muss ich tun, um Ihre Geld-zurück-Garantie zu prüfen?",
        "what do I need to do to check your money back guarantee?",
        "refund-agent",
    ),
    ("Wo kann ich eine neue Lieferadresse eingeben?", "where can i submit a new delivery address", "shipping-agent"),
    ("Wie richte ich eine weitere Lieferadresse ein?", "how to set up another delivery dadress?", "shipping-agent"),
    (
        "Meine Adresse hat sich geändert, ich möchte sie bearbeiten",
        "my address has changed, I want to edit it",
        "shipping-agent",
    ),
    (
        "Ich bekomme Fehler, wenn ich meine Lieferadresse ändern will",
        "I have errors trying to modify my delivery address",
        "shipping-agent",
    ),
    (
        "Ich brauche Hilfe beim Aktualisieren meiner Versandadresse",
        "I need help updating my shipping address",
        "shipping-agent",
    ),
    (
        "Ich muss meine blöde Versandadresse ändern, wie geht das?",
        "need to change my damn shipping address how could i do it",
        "shipping-agent",
    ),
    (
        "Ich möchte den Newsletter Ihrer Firma erhalten, wie mache ich das?",
        "I want to receive your company newsletter , how do I do it?",
        "subscription-agent",
    ),
    (
        "Ich weiß nicht, wie ich mich für den Firmen-Newsletter anmelde",
        "I do not know how to sign up to the company newsletter",
        "subscription-agent",
    ),
    (
        "Was muss ich tun, um den Newsletter der Firma zu abonnieren?",
        "what do I need to do to subscribe to the company newsletter?",
        "subscription-agent",
    ),
    (
        "Ich möchte Informationen zur Kündigung meines Newsletter-Abos",
        "i want information about cancel my newsletter subscription",
        "subscription-agent",
    ),
    (
        "Ich kann mein Abonnement eures Newsletters nicht kündigen",
        "i cantcancel my subscription to ur company newsletter",
        "subscription-agent",
    ),
    (
        "Hilf mir, das Newsletter-Abonnement zu kündigen",
        "help me canceling the newsletter subscription",
        "subscription-agent",
    ),
]
