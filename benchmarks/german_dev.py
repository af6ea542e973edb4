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


# German renderings of 66 more train.csv queries (6 per agent, seed 11, none of the above),
# written in session 8 after the router was built: nothing was fitted on them, so like the
# check in bench_routing.py they measure. Their English originals keep the typos and
# templates of train.csv ("assistanec", "{{Person Name}}"), which the renderings do not.
GERMAN_HELD_OUT = [
    (
        "Ich brauche Hilfe beim Wechsel zum Premium-Konto",
        "I want help changing to the premium account",
        "account-agent",
    ),
    (
        "Ich weiß nicht, wie ich ein Privatkonto anlegen kann",
        "i do not know how i can create a Personal account",
        "account-agent",
    ),
    ("Daten im Sparkonto ändern", "change data on Savings account", "account-agent"),
    (
        "Ich habe die PIN meines Benutzers vergessen, helfen Sie mir, sie wiederherzustellen",
        "I can't remember the PIN of my user, help restoring it",
        "account-agent",
    ),
    (
        "Wo finde ich Informationen zur Löschung meines Gold-Kontos?",
        "where can I find information about my gold account deletion?",
        "account-agent",
    ),
    (
        "Ich weiß nicht, was ich tun soll, um das Passwort meines Profils wiederherzustellen",
        "i dont know what to do to recover the pwd of my profile",
        "account-agent",
    ),
    (
        "Ich versuche, die Gebühr für den vorzeitigen Ausstieg zu sehen",
        "i try to see the early exit penalty",
        "cancel-agent",
    ),
    (
        "Ich weiß nicht, was ich tun muss, um die Kündigungsgebühr zu sehen",
        "I do not know what I have to do to see the termination fee",
        "cancel-agent",
    ),
    (
        "Ich brauche Hilfe, um die Strafgebühren für einen vorzeitigen Ausstieg zu prüfen",
        "I want assistance to check the early exit penalties",
        "cancel-agent",
    ),
    (
        "Ich möchte Hilfe, um die Gebühr für eine vorzeitige Kündigung zu sehen",
        "i want assistance to see the earlly termination fee",
        "cancel-agent",
    ),
    (
        "Können Sie mir helfen, die Stornogebühren anzusehen?",
        "can you help me seeing the cancellation charges?",
        "cancel-agent",
    ),
    (
        "Hilf mir, die Strafen für eine vorzeitige Kündigung zu prüfen",
        "help me check thee early termination penalties",
        "cancel-agent",
    ),
    (
        "Was muss ich tun, um mit einem echten Mitarbeiter zu sprechen?",
        "what do i need to do to speak with a live agent",
        "contact-agent",
    ),
    (
        "Können Sie mir helfen, mit einem menschlichen Mitarbeiter zu reden?",
        "can you help me to talk to a human agent?",
        "contact-agent",
    ),
    ("Ich möchte eine Person kontaktieren", "I want to contact a person", "contact-agent"),
    (
        "Hilf mir nachzusehen, zu welchen Zeiten der Kundendienst erreichbar ist",
        "help me seeing what hours customer service available is",
        "contact-agent",
    ),
    (
        "Ich verstehe Sie nicht, ich brauche Hilfe, um mit jemandem zu sprechen",
        "I cannot understand you, I need help speaking to someone",
        "contact-agent",
    ),
    (
        "Habt ihr eine kostenlose Telefonnummer für den Kundendienst?",
        "do you have a free phone number to contact customer service?",
        "contact-agent",
    ),
    (
        "Ich möchte Hilfe, um zu prüfen, wann ich den Artikel erwarten kann",
        "i want assistance checking how soon can i expect the item",
        "delivery-agent",
    ),
    (
        "Kannst du mir helfen nachzusehen, wann mein Artikel ankommt?",
        "can uhelp me check when will my item arrive",
        "delivery-agent",
    ),
    ("Ich rufe an, um die Versandmethoden zu sehen", "I'm calling to see the shipment methods", "delivery-agent"),
    (
        "Wo kann ich nachsehen, wann meine Sendung ankommt?",
        "where  to check how soon can I expect my shipment?",
        "delivery-agent",
    ),
    ("Kann ich aus New York bestellen?", "can i place an order from New York", "delivery-agent"),
    (
        "Hilfe, um zu prüfen, wann das Paket ankommt",
        "help to check how soon can i expect the package",
        "delivery-agent",
    ),
    (
        "Hilfe beim Einreichen einer Kundenbeschwerde gegen eure Firma",
        "assistance filing a customer complaint against ur company",
        "feedback-agent",
    ),
    ("Ich möchte Hilfe, um eine Meinung abzugeben", "I want assistanec to leave an opinion", "feedback-agent"),
    (
        "Ich versuche, eine Reklamation gegen euer Unternehmen einzureichen",
        "i try to lodge a reclamation against ur business",
        "feedback-agent",
    ),
    (
        "Können Sie mir helfen, eine Beschwerde gegen Ihre Firma einzulegen?",
        "can you help me lodging a complaint against your company?",
        "feedback-agent",
    ),
    (
        "Ich weiß nicht, wie ich eine Meinung zu einem Produkt abgeben kann",
        "i do not know what to do to leave an opinion for a product",
        "feedback-agent",
    ),
    (
        "Ich weiß nicht, wie ich einen Kommentar zu einem Produkt hinterlasse",
        "I don't know how to leave a comment about a product",
        "feedback-agent",
    ),
    (
        "Ich weiß nicht, was ich tun muss, um meine Rechnung Nr. 85632 zu bekommen",
        "i dont know what i habe to do to get my bill #85632",
        "invoice-agent",
    ),
    (
        "Wo bekomme ich meine Rechnungen von Herrn Schmidt?",
        "where do I get my bills from {{Person Name}}?",
        "invoice-agent",
    ),
    (
        "Ich versuche, meine Rechnung von Frau Weber zu bekommen",
        "I'm trying to get my invoice from {{Person Name}}",
        "invoice-agent",
    ),
    (
        "Ich weiß nicht, was ich tun muss, um die Rechnung 12588 zu erhalten",
        "I don't know what I have to do to get the bill #12588",
        "invoice-agent",
    ),
    ("Zeig mir die Rechnung 37777", "show me bill #37777", "invoice-agent"),
    ("Ich muss die Rechnung 85632 sehen, ich brauche Hilfe", "I have to see bill #85632, I need help", "invoice-agent"),
    ("Ich brauche Hilfe beim Kauf von ein paar eurer Artikel", "i need help buying some of ur item", "order-agent"),
    (
        "Ich brauche Hilfe, um der Bestellung 123456 ein paar Produkte hinzuzufügen",
        "i need assistance to add some products to order 123456",
        "order-agent",
    ),
    ("Voraussichtliche Ankunft der Bestellung 123456 anzeigen", "see ETA ob order 123456", "order-agent"),
    (
        "Kannst du mir helfen, ein Produkt aus dem Kauf 123456 umzutauschen?",
        "can uhelp me swappping a product of purchase 123456",
        "order-agent",
    ),
    ("Ich muss eine Bestellung aufgeben", "I have got to make an order", "order-agent"),
    ("Bestellung 123456 aktualisieren", "updateorder 123456", "order-agent"),
    ("Sag mir, welche Zahlungsmöglichkeiten es gibt", "tell me what payment options are available", "payment-agent"),
    (
        "Was muss ich tun, um zu sehen, welche Zahlungsarten ihr akzeptiert?",
        "what do I have to do to see what payment options you accept?",
        "payment-agent",
    ),
    (
        "Ich brauche Hilfe, um Fehler bei der Online-Zahlung zu melden",
        "I need assistance reporting errors  with online payment",
        "payment-agent",
    ),
    ("Ich muss einen Zahlungsfehler melden", "I have to notify of a payment error", "payment-agent"),
    ("Brauche Hilfe beim Melden von Zahlungsfehlern", "need assistance reporting payment erroors", "payment-agent"),
    (
        "Ich versuche, die akzeptierten Zahlungsarten zu sehen",
        "I am trying to see the accepted payment options",
        "payment-agent",
    ),
    (
        "Ich habe 50 Dollar für eine Bestellung bezahlt und muss eine Erstattung bekommen",
        "i have padi {{Currency Symbol}}$50 for an order i need to get a reimbursement",
        "refund-agent",
    ),
    (
        "Hilfe, um zu sehen, in welchen Fällen ich eine Erstattung verlangen kann",
        "help to see in what cases can I request to be reimbursed",
        "refund-agent",
    ),
    (
        "Was muss ich tun, um mein Geld zurückzufordern?",
        "what do i have to do to request restitutions of money",
        "refund-agent",
    ),
    (
        "Wie prüfe ich, ob mit meiner Rückvergütung etwas nicht stimmt?",
        "how to check if there is anything wrong with my rebate?",
        "refund-agent",
    ),
    ("Ich möchte Hilfe, um mein Geld zurückzubekommen", "want help to get a rebate of my money", "refund-agent"),
    (
        "Ich muss den Status meiner Rückerstattung sehen, wie mache ich das?",
        "I have to see the status of my refund, how could I do it?",
        "refund-agent",
    ),
    (
        "Ich habe eine falsche Lieferadresse eingegeben und brauche Hilfe, sie zu ändern",
        "I entered a wrong shipping address, I need help to modify it",
        "shipping-agent",
    ),
    (
        "Brauche Hilfe beim Eingeben meiner neuen Lieferadresse",
        "need assistance entering my new shipping address",
        "shipping-agent",
    ),
    (
        "Ich brauche Hilfe beim Einrichten meiner Versandadresse",
        "I need help to set my shipping address up",
        "shipping-agent",
    ),
    (
        "Ich muss meine Lieferadresse ändern, wie geht das?",
        "need to modify my delivery addrexs how do i do it",
        "shipping-agent",
    ),
    (
        "Die Adresse hat sich geändert, können Sie mir helfen, sie zu ändern?",
        "the address changed, can you help me change it?",
        "shipping-agent",
    ),
    (
        "Wo bekomme ich Informationen zum Bearbeiten der Adresse?",
        "where can i get information about editing the address",
        "shipping-agent",
    ),
    (
        "Ich möchte Hilfe beim Abmelden vom Newsletter",
        "I want assistance unsubscribing from the newsletter",
        "subscription-agent",
    ),
    (
        "Ich möchte den Newsletter bekommen, wie mache ich das?",
        "I need to receive the newsletter, how do I do it?",
        "subscription-agent",
    ),
    (
        "Ich muss das Abonnement eures Newsletters kündigen",
        "i have got to cancel the subscription to ur newsletter",
        "subscription-agent",
    ),
    ("Für den Firmen-Newsletter anmelden", "sign up to company newsletter", "subscription-agent"),
    ("Hilf mir, euren Newsletter zu abonnieren", "help me  subscribe to your newsletter", "subscription-agent"),
    (
        "Wo kann ich den Newsletter eurer Firma bekommen?",
        "where can I receive your company newsletter?",
        "subscription-agent",
    ),
]
