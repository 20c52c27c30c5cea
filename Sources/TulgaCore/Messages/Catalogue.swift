/// Every sentence a citizen, a kiosk user or a portal reader sees, by key.
public enum MessageKey: String, Sendable, Hashable, Codable, CaseIterable {
    // Liveness prompts and hints (kiosk, HTTP sessions).
    case promptTurnLeft = "prompt.turn_left", promptTurnRight = "prompt.turn_right", promptLookUp = "prompt.look_up"
    case promptLookDown = "prompt.look_down", promptMoveCloser = "prompt.move_closer", promptBlink = "prompt.blink"
    case hintCentreFace = "hint.centre_face", hintMoreLight = "hint.more_light", hintLessLight = "hint.less_light"
    case hintOtherFaces = "hint.other_faces", hintNoFace = "hint.no_face", hintHoldStill = "hint.hold_still"
    case hintLookStraight = "hint.look_straight", hintComeCloser = "hint.come_closer", hintHoldSharp = "hint.hold_sharp"
    // Kiosk phrases.
    case kioskGuidance = "kiosk.guidance", kioskPassed = "kiosk.passed", kioskFailed = "kiosk.failed"
    case kioskMatch = "kiosk.match", kioskNoMatch = "kiosk.no_match"
    case kioskOutcomePass = "kiosk.outcome_pass", kioskOutcomeReview = "kiosk.outcome_review"
    case kioskOutcomeRetry = "kiosk.outcome_retry", kioskOutcomeInPerson = "kiosk.outcome_in_person"
    // The identity-document step: what to show, guidance while capturing, and its outcome.
    case documentShowFront = "document.show_front", documentShowBack = "document.show_back", documentShowPassport = "document.show_passport"
    case documentInFrame = "document.in_frame", documentHoldStill = "document.hold_still", documentTooDark = "document.too_dark"
    case documentGlare = "document.glare", documentCaptured = "document.captured", documentConfirm = "document.confirm"
    case documentDone = "document.done", documentReview = "document.review"
    // SMS texts.
    case smsCode = "sms.code", smsModerationApproved = "sms.moderation_approved", smsModerationRejected = "sms.moderation_rejected"
    case smsModerationRejectedRetry = "sms.moderation_rejected_retry", smsPhoneChanged = "sms.phone_changed"
    case smsSignInCode = "sms.signin_code"
    case smsDocumentApproved = "sms.document_approved", smsDocumentRejected = "sms.document_rejected"
    // E-mail: the application number on submission, then each status change (subject and body).
    case mailSubmittedSubject = "mail.submitted_subject", mailSubmittedBody = "mail.submitted_body"
    case mailStatusSubject = "mail.status_subject", mailStatusBody = "mail.status_body"
    // Portal status titles.
    case statusNew = "status.new", statusIdentified = "status.identified", statusSigning = "status.signing"
    case statusIssued = "status.issued", statusInstalled = "status.installed", statusRejected = "status.rejected"
    case statusExpired = "status.expired", statusRevoked = "status.revoked"
    // Application templates.
    case templateIndividual = "template.individual", templateFirstHead = "template.first_head", templateSigner = "template.signer"
    case templateFinancialSigner = "template.financial_signer", templateHR = "template.hr", templateEmployee = "template.employee"
    case templateTreasuryClient = "template.treasury_client"
    // Refusals an applicant reads.
    case refusalPhoneNotRegistered = "refusal.phone_not_registered", refusalRenewal = "refusal.renewal"
    case refusalAttemptsExhausted = "refusal.attempts_exhausted", refusalAttemptsBusy = "refusal.attempts_busy"
    case refusalInPersonLocked = "refusal.in_person_locked"
    // The browser portal's own sentences (PortalMessages.swift).
    case portalTitle = "portal.title", portalWorking = "portal.working", portalNext = "portal.next", portalAgentOK = "portal.agent_ok"
    case portalAgentMissing = "portal.agent_missing", portalAgentRetry = "portal.agent_retry", portalAgentPassword = "portal.agent_password"
    case portalAgentStorage = "portal.agent_storage", portalAgentKeysExist = "portal.agent_keys_exist", portalAgentNoKeys = "portal.agent_no_keys"
    case portalAgentFailed = "portal.agent_failed", portalStepStart = "portal.step_start", portalIIN = "portal.iin"
    case portalTemplate = "portal.template", portalBIN = "portal.bin", portalGetCode = "portal.get_code", portalSignInLink = "portal.sign_in_link"
    case portalSMSTitle = "portal.sms_title", portalSMSSent = "portal.sms_sent", portalCountdown = "portal.countdown"
    case portalCodeExpired = "portal.code_expired", portalResend = "portal.resend", portalResendWait = "portal.resend_wait"
    case portalConfirm = "portal.confirm", portalCameraTitle = "portal.camera_title", portalCameraText = "portal.camera_text"
    case portalCameraCheck = "portal.camera_check", portalCameraDenied = "portal.camera_denied", portalCameraMissing = "portal.camera_missing"
    case portalCameraBusy = "portal.camera_busy", portalSelfieTitle = "portal.selfie_title", portalSelfieText = "portal.selfie_text"
    case portalTakePhoto = "portal.take_photo", portalRetake = "portal.retake", portalVideoTitle = "portal.video_title"
    case portalVideoText = "portal.video_text", portalStartCheck = "portal.start_check", portalProgress = "portal.progress"
    case portalTryAgain = "portal.try_again", portalPINTitle = "portal.pin_title", portalPINText = "portal.pin_text", portalPIN = "portal.pin"
    case portalPINRepeat = "portal.pin_repeat", portalPINMismatch = "portal.pin_mismatch", portalPINAlready = "portal.pin_already"
    case portalDocumentTitle = "portal.document_title", portalDocumentText = "portal.document_text"
    case portalDocumentIDCard = "portal.document_id_card", portalDocumentPassport = "portal.document_passport"
    case portalDocumentFront = "portal.document_front", portalDocumentBack = "portal.document_back", portalDocumentCheck = "portal.document_check"
    // The document step's file upload (each side from a photo file instead of the camera) and the read fields' names.
    case portalDocumentOrFile = "portal.document_or_file", portalDocumentFileFront = "portal.document_file_front"
    case portalDocumentFileBack = "portal.document_file_back", portalDocumentReceived = "portal.document_received"
    case portalDocumentFileType = "portal.document_file_type", portalDocumentFileSize = "portal.document_file_size"
    case portalDocumentFieldNumber = "portal.document_field_number", portalDocumentFieldSurname = "portal.document_field_surname"
    case portalDocumentFieldGivenNames = "portal.document_field_given_names", portalDocumentFieldBirthDate = "portal.document_field_birth_date"
    case portalDocumentFieldExpiryDate = "portal.document_field_expiry_date", portalDocumentFieldSex = "portal.document_field_sex"
    case portalDocumentFieldIIN = "portal.document_field_iin", portalDocumentFieldNationality = "portal.document_field_nationality"
    case portalAgreementTitle = "portal.agreement_title", portalAgreementAccept = "portal.agreement_accept"
    case portalConsentAccept = "portal.consent_accept", portalPINEnter = "portal.pin_enter", portalApplyTitle = "portal.apply_title"
    case portalApplyText = "portal.apply_text", portalApply = "portal.apply", portalInstallTitle = "portal.install_title"
    case portalInstall = "portal.install", portalInstalled = "portal.installed", portalStatusTitle = "portal.status_title"
    case portalNumber = "portal.number", portalStatus = "portal.status", portalStatusTime = "portal.status_time"
    case portalNoApplications = "portal.no_applications", portalNewApplication = "portal.new_application"
    case portalSignInTitle = "portal.sign_in_title", portalSignInText = "portal.sign_in_text", portalSignIn = "portal.sign_in"
    case portalSignInCode = "portal.sign_in_code", portalSignedIn = "portal.signed_in", portalSignOut = "portal.sign_out"
    case portalErrorNetwork = "portal.error_network", portalErrorSession = "portal.error_session", portalErrorIIN = "portal.error_iin"
    case portalErrorIINBound = "portal.error_iin_bound", portalErrorCode = "portal.error_code", portalErrorCodeBlocked = "portal.error_code_blocked"
    case portalErrorRate = "portal.error_rate", portalErrorImage = "portal.error_image", portalErrorNoFace = "portal.error_no_face"
    case portalErrorPIN = "portal.error_pin", portalErrorPINRule = "portal.error_pin_rule", portalErrorDigitalID = "portal.error_digital_id"
    case portalErrorActiveApplication = "portal.error_active_application", portalErrorAgreement = "portal.error_agreement"
    case portalErrorCertificateRevoked = "portal.error_certificate_revoked", portalErrorCertificateExpired = "portal.error_certificate_expired"
    case portalErrorCertificateUntrusted = "portal.error_certificate_untrusted", portalErrorCertificateNotAuth = "portal.error_certificate_not_auth"
    case portalErrorSignIn = "portal.error_sign_in", portalErrorGeneric = "portal.error_generic"
}

/// The one ru/kk/en catalogue. Domain code returns ``Message``s; shells render them.
public enum Catalogue {
    /// The entry's text with `{placeholders}` left in; the key itself if the entry is missing.
    ///
    /// - Parameters:
    ///   - key: the entry to look up.
    ///   - language: which of the three texts to return.
    /// - Returns: The raw template, e.g. the `.smsCode` text with `{code}` still in it.
    public static func template(_ key: MessageKey, _ language: Language) -> String {
        guard let entry = entries[key] else { return key.rawValue }
        return switch language {
        case .ru: entry.ru
        case .kk: entry.kk
        case .en: entry.en
        }
    }

    static let entries: [MessageKey: (ru: String, kk: String, en: String)] = coreEntries.merging(portalEntries) { first, _ in first }

    static let coreEntries: [MessageKey: (ru: String, kk: String, en: String)] = [
        .promptTurnLeft: ("Медленно поверните голову влево", "Басыңызды баяу солға бұрыңыз", "Slowly turn your head to the left"),
        .promptTurnRight: ("Медленно поверните голову вправо", "Басыңызды баяу оңға бұрыңыз", "Slowly turn your head to the right"),
        .promptLookUp: ("Посмотрите вверх", "Жоғары қараңыз", "Look up"),
        .promptLookDown: ("Посмотрите вниз", "Төмен қараңыз", "Look down"),
        .promptMoveCloser: ("Приблизьтесь к камере", "Камераға жақындаңыз", "Move closer to the camera"),
        .promptBlink: ("Моргните", "Көзіңізді жыпылықтатыңыз", "Blink"),
        .hintCentreFace: ("Поместите лицо в центр овала", "Бетіңізді сопақтың ортасына орналастырыңыз", "Put your face in the centre of the oval"),
        .hintMoreLight: ("Включите больше света", "Жарықты көбірек қосыңыз", "Turn on more light"),
        .hintLessLight: ("Слишком ярко: уменьшите освещение", "Тым жарық: жарықты азайтыңыз", "Too bright: reduce the light"),
        .hintOtherFaces: ("Убедитесь, что в кадре нет других лиц", "Кадрда басқа адамдардың беті жоқ екеніне көз жеткізіңіз",
                          "Make sure there are no other faces in the frame"),
        .hintNoFace: ("Лицо не найдено: посмотрите в камеру", "Бет табылмады: камераға қараңыз", "No face found: look at the camera"),
        .hintHoldStill: ("Не двигайтесь", "Қозғалмаңыз", "Hold still"),
        .hintLookStraight: ("Смотрите прямо в камеру", "Камераға тура қараңыз", "Look straight at the camera"),
        .hintComeCloser: ("Подойдите ближе", "Жақынырақ келіңіз", "Come closer"),
        .hintHoldSharp: ("Изображение размыто: не двигайтесь", "Сурет бұлыңғыр: қозғалмаңыз", "The picture is blurred: hold still"),
        .kioskGuidance: ("Подготовка: держите лицо в овале", "Дайындық: бетіңізді сопақ ішінде ұстаңыз", "Getting ready: keep your face in the oval"),
        .kioskPassed: ("Проверка пройдена", "Тексеру сәтті өтті", "Check passed"),
        .kioskFailed: ("Проверка не пройдена", "Тексеруден өтпеді", "Check failed"),
        .kioskMatch: ("Лицо совпадает с фото в реестре", "Бет тізілімдегі суретке сәйкес келеді", "The face matches the registry photo"),
        .kioskNoMatch: ("Лицо не совпадает с фото в реестре", "Бет тізілімдегі суретке сәйкес келмейді", "The face does not match the registry photo"),
        .kioskOutcomePass: ("Личность подтверждена: Digital ID создан. Можно продолжить выпуск ЭЦП.",
                            "Жеке басыңыз расталды: Digital ID жасалды. ЭЦҚ шығаруды жалғастыруға болады.",
                            "Identity confirmed: your Digital ID is created. You can go on to issue your EDS."),
        .kioskOutcomeReview: ("Ваше фото отправлено на проверку модератору. Результат придёт по SMS.",
                              "Сіздің фотоңыз модераторға тексеруге жіберілді. Нәтижесі SMS арқылы келеді.",
                              "Your photo has been sent to a moderator. The result will come by SMS."),
        .kioskOutcomeRetry: ("Личность не подтверждена. Можно попробовать ещё раз (осталось попыток: {left}).",
                             "Жеке басыңыз расталмады. Қайталап көруге болады (қалған әрекеттер: {left}).",
                             "Identity not confirmed. You can try again ({left} attempts left)."),
        .kioskOutcomeInPerson: ("Личность не подтверждена, попыток не осталось. Обратитесь к оператору ЦОН с удостоверением личности.",
                                "Жеке басыңыз расталмады, әрекеттер қалмады. Жеке куәлігіңізбен ХҚКО операторына жүгініңіз.",
                                "Identity not confirmed and no attempts are left. Please see a service-centre operator with your ID document."),
        .documentShowFront: ("Расположите лицевую сторону удостоверения личности в рамке", "Жеке куәліктің алдыңғы жағын жақтауға орналастырыңыз",
                             "Place the front of your ID card in the frame"),
        .documentShowBack: ("Теперь расположите обратную сторону удостоверения в рамке", "Енді куәліктің артқы жағын жақтауға орналастырыңыз",
                            "Now place the back of your ID card in the frame"),
        .documentShowPassport: ("Расположите страницу паспорта с фотографией в рамке", "Паспорттың суреті бар бетін жақтауға орналастырыңыз",
                                "Place the passport page with your photo in the frame"),
        .documentInFrame: ("Документ не найден: поместите его целиком в рамку", "Құжат табылмады: оны толығымен жақтауға орналастырыңыз",
                           "No document found: put the whole document in the frame"),
        .documentHoldStill: ("Держите документ неподвижно", "Құжатты қозғалтпай ұстаңыз", "Hold the document still"),
        .documentTooDark: ("Слишком темно: добавьте света", "Тым қараңғы: жарықты көбейтіңіз", "Too dark: add more light"),
        .documentGlare: ("Блики на документе: наклоните его или уберите яркий свет", "Құжатта жарқыл бар: оны еңкейтіңіз немесе жарық көзін алыңыз",
                         "Glare on the document: tilt it or move away from the bright light"),
        .documentCaptured: ("Снимок сделан", "Сурет түсірілді", "Photo taken"),
        .documentConfirm: ("Проверьте распознанные данные удостоверения личности и подтвердите их",
                           "Жеке куәліктің танылған деректерін тексеріп, растаңыз",
                           "Check the recognised data of your identity document and confirm it"),
        .documentDone: ("Документ проверен: данные совпадают с государственной базой. Digital ID готов.",
                        "Құжат тексерілді: деректер мемлекеттік базамен сәйкес келеді. Digital ID дайын.",
                        "Document checked: the data matches the state database. Your Digital ID is ready."),
        .documentReview: ("Ваш документ направлен на проверку (модерацию) оператору. Результат придёт по SMS.",
                          "Құжатыңыз операторға тексеруге (модерацияға) жіберілді. Нәтижесі SMS арқылы келеді.",
                          "Your document has been sent to an operator for review. The result will come by SMS."),
        .smsDocumentApproved: ("Проверка вашего удостоверения личности завершена: документ подтверждён. Вы можете продолжить выпуск ЭЦП.",
                               "Жеке куәлігіңізді тексеру аяқталды: құжат расталды. ЭЦҚ шығаруды жалғастыра аласыз.",
                               "The check of your identity document is complete: it is confirmed. You can continue issuing your EDS."),
        .smsDocumentRejected: ("Проверка вашего удостоверения личности завершена: документ не подтверждён. Пройдите проверку заново или обратитесь в ЦОН.",
                               "Жеке куәлігіңізді тексеру аяқталды: құжат расталмады. Тексеруден қайта өтіңіз немесе ХҚКО-ға жүгініңіз.",
                               "The check of your identity document is complete: it is not confirmed. Verify again, or visit a service centre."),
        .smsCode: ("Код подтверждения для выпуска ЭЦП: {code}. Никому не сообщайте.",
                   "ЭЦҚ шығаруға арналған растау коды: {code}. Ешкімге айтпаңыз.",
                   "Confirmation code for issuing your EDS: {code}. Do not share it."),
        .smsSignInCode: ("Код от 1414 для входа по ЭЦП: {code}. Никому не сообщайте, даже сотрудникам.",
                         "ЭЦҚ арқылы кіруге арналған 1414 коды: {code}. Ешкімге, тіпті қызметкерлерге де айтпаңыз.",
                         "Your 1414 code to sign in with your EDS: {code}. Do not share it with anyone, staff included."),
        .smsPhoneChanged: ("Номер телефона для вашего ИИН изменён. Если вы его не меняли, обратитесь в ЦОН.",
                           "ЖСН-ыңызға байланған телефон нөмірі өзгертілді. Егер оны сіз өзгертпесеңіз, ХҚКО-ға жүгініңіз.",
                           "The phone number for your IIN was changed. If you did not change it, contact a service centre."),
        .smsModerationApproved: ("Проверка вашей фотографии завершена: личность подтверждена. Вы можете продолжить выпуск ЭЦП.",
                                 "Фотосуретіңізді тексеру аяқталды: жеке басыңыз расталды. ЭЦҚ шығаруды жалғастыра аласыз.",
                                 "The check of your photo is complete: your identity is confirmed. You can continue issuing your EDS."),
        .smsModerationRejected: ("Проверка вашей фотографии завершена: личность не подтверждена. Попытки исчерпаны: обратитесь в ЦОН для выпуска ЭЦП.",
                                 "Фотосуретіңізді тексеру аяқталды: жеке басыңыз расталмады. Әрекеттер таусылды: ЭЦҚ алу үшін ХҚКО-ға жүгініңіз.",
                                 "The check of your photo is complete: your identity is not confirmed. No attempts are left: visit a service centre to obtain an EDS."),
        .smsModerationRejectedRetry: ("Проверка вашей фотографии завершена: личность не подтверждена. Вы можете пройти проверку ещё раз (осталось попыток: {left}).",
                                      "Фотосуретіңізді тексеру аяқталды: жеке басыңыз расталмады. Тексеруден қайта өте аласыз (қалған әрекеттер: {left}).",
                                      "The check of your photo is complete: your identity is not confirmed. You can take the check again ({left} attempts left)."),
        .mailSubmittedSubject: ("Заявка на выпуск ЭЦП принята", "ЭЦҚ шығаруға өтінім қабылданды", "Your EDS application has been received"),
        .mailSubmittedBody: (
            "Ваша заявка на выпуск регистрационных свидетельств принята.\nНомер заявки: {number}\nСтатус: «{status}»\n\nНа данный адрес электронной почты Вам будет приходить информация о состоянии регистрационных свидетельств. Никому не сообщайте номер заявки.",
            "Тіркеу куәліктерін шығаруға өтініміңіз қабылданды.\nӨтінім нөмірі: {number}\nМәртебесі: «{status}»\n\nОсы электрондық пошта мекенжайына тіркеу куәліктерінің жай-күйі туралы ақпарат жіберіледі. Өтінім нөмірін ешкімге айтпаңыз.",
            "Your application for registration certificates has been received.\nApplication number: {number}\nStatus: “{status}”\n\nInformation on the state of your registration certificates will be sent to this e-mail address. Do not share the application number."),
        .mailStatusSubject: ("Статус заявки на ЭЦП изменён", "ЭЦҚ өтінімінің мәртебесі өзгерді", "Your EDS application status has changed"),
        .mailStatusBody: ("Статус заявки № {number} изменён: «{status}».", "№ {number} өтінімнің мәртебесі өзгерді: «{status}».",
                          "The status of application No. {number} has changed: “{status}”."),
        .statusNew: ("Новая заявка", "Жаңа өтінім", "New application"),
        .statusIdentified: ("Пользователь идентифицирован центром регистрации", "Пайдаланушы тіркеу орталығында сәйкестендірілді",
                            "The registration centre has identified the user"),
        .statusSigning: ("Заявка на подписи в ИС НУЦ", "Өтінім ҰКО АЖ-да қол қоюда", "The application is being signed in the NCA system"),
        .statusIssued: ("Выпущены регистрационные свидетельства по заявке", "Өтінім бойынша тіркеу куәліктері шығарылды",
                        "Registration certificates have been issued for the application"),
        .statusInstalled: ("Сертификаты установлены", "Сертификаттар орнатылды", "Certificates installed"),
        .statusRejected: ("Заявка отклонена", "Өтінім қабылданбады", "Application rejected"),
        .statusExpired: ("Срок действия заявки истёк", "Өтінімнің мерзімі өтті", "The application has expired"),
        .statusRevoked: ("Сертификаты отозваны", "Сертификаттар кері қайтарылды", "Certificates revoked"),
        .templateIndividual: ("Физическое лицо (удалённая идентификация)", "Жеке тұлға (қашықтан сәйкестендіру)", "Individual (remote identification)"),
        .templateFirstHead: ("Первый руководитель юридического лица", "Заңды тұлғаның бірінші басшысы", "First head of a legal entity"),
        .templateSigner: ("Сотрудник с правом подписи", "Қол қою құқығы бар қызметкер", "Employee with signing authority"),
        .templateFinancialSigner: ("Сотрудник с правом подписи финансовых документов", "Қаржы құжаттарына қол қою құқығы бар қызметкер",
                                   "Employee with authority to sign financial documents"),
        .templateHR: ("Сотрудник отдела кадров", "Кадр бөлімінің қызметкері", "HR employee"),
        .templateEmployee: ("Сотрудник организации", "Ұйым қызметкері", "Employee of the organisation"),
        .templateTreasuryClient: ("Участник «Казначейство-Клиент»", "«Қазынашылық-Клиент» қатысушысы", "Treasury-Client participant"),
        .refusalPhoneNotRegistered: (
            "Ваш номер не зарегистрирован в базе мобильных граждан. Зарегистрируйте номер телефона в базе мобильных граждан (ЦОН или портал eGov) и повторите попытку",
            "Нөміріңіз мобильді азаматтар базасында тіркелмеген. Телефон нөміріңізді мобильді азаматтар базасында тіркеп (ХҚКО немесе eGov порталы), әрекетті қайталаңыз",
            "Your number is not in the mobile citizens database. Register your phone there (at a service centre or on the eGov portal) and try again"),
        .refusalRenewal: ("Подача заявки по данному шаблону недоступна через личный кабинет пользователя",
                          "Бұл үлгі бойынша өтінім беру пайдаланушының жеке кабинеті арқылы қолжетімсіз",
                          "Applications under this template cannot be filed through the personal account"),
        .refusalAttemptsExhausted: ("Все {max} попытки биометрической проверки использованы; подайте заявку лично в ЦОН",
                                    "Барлық {max} биометриялық тексеру әрекеті пайдаланылды; ХҚКО-ға жеке өтініш беріңіз",
                                    "all {max} biometric attempts are used; apply in person at a service centre"),
        .refusalAttemptsBusy: ("{failures} неудачных и {running} текущих попыток не оставляют свободных (лимит {max})",
                               "{failures} сәтсіз және {running} ағымдағы әрекет бос орын қалдырмайды (шегі {max})",
                               "{failures} failed and {running} running attempts leave none free (limit {max})"),
        .refusalInPersonLocked: ("Подача заявки в ЦОН открывается после {max} неудачных попыток; записано {failures}",
                                 "ХҚКО-да өтініш беру {max} сәтсіз әрекеттен кейін ашылады; тіркелгені {failures}",
                                 "the in-person path opens after {max} failed attempts; {failures} recorded"),
    ]
}
