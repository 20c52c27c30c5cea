/// Languages the kiosk speaks.
public enum Language: String, Sendable, CaseIterable, Codable {
    case ru, kk, en
}

extension Prompt {
    /// What the kiosk shows for this prompt.
    public func text(_ language: Language) -> String {
        switch (self, language) {
        case (.turnLeft, .ru): "Медленно поверните голову влево"
        case (.turnLeft, .kk): "Басыңызды баяу солға бұрыңыз"
        case (.turnLeft, .en): "Slowly turn your head to the left"
        case (.turnRight, .ru): "Медленно поверните голову вправо"
        case (.turnRight, .kk): "Басыңызды баяу оңға бұрыңыз"
        case (.turnRight, .en): "Slowly turn your head to the right"
        case (.lookUp, .ru): "Посмотрите вверх"
        case (.lookUp, .kk): "Жоғары қараңыз"
        case (.lookUp, .en): "Look up"
        case (.lookDown, .ru): "Посмотрите вниз"
        case (.lookDown, .kk): "Төмен қараңыз"
        case (.lookDown, .en): "Look down"
        case (.moveCloser, .ru): "Приблизьтесь к камере"
        case (.moveCloser, .kk): "Камераға жақындаңыз"
        case (.moveCloser, .en): "Move closer to the camera"
        case (.blink, .ru): "Моргните"
        case (.blink, .kk): "Көзіңізді жыпылықтатыңыз"
        case (.blink, .en): "Blink"
        }
    }
}

extension Hint {
    public func text(_ language: Language) -> String {
        switch (self, language) {
        case (.centreFace, .ru): "Поместите лицо в центр овала"
        case (.centreFace, .kk): "Бетіңізді сопақтың ортасына орналастырыңыз"
        case (.centreFace, .en): "Put your face in the centre of the oval"
        case (.moreLight, .ru): "Включите больше света"
        case (.moreLight, .kk): "Жарықты көбірек қосыңыз"
        case (.moreLight, .en): "Turn on more light"
        case (.lessLight, .ru): "Слишком ярко: уменьшите освещение"
        case (.lessLight, .kk): "Тым жарық: жарықты азайтыңыз"
        case (.lessLight, .en): "Too bright: reduce the light"
        case (.otherFaces, .ru): "Убедитесь, что в кадре нет других лиц"
        case (.otherFaces, .kk): "Кадрда басқа адамдардың беті жоқ екеніне көз жеткізіңіз"
        case (.otherFaces, .en): "Make sure there are no other faces in the frame"
        case (.noFace, .ru): "Лицо не найдено: посмотрите в камеру"
        case (.noFace, .kk): "Бет табылмады: камераға қараңыз"
        case (.noFace, .en): "No face found: look at the camera"
        case (.holdStill, .ru): "Не двигайтесь"
        case (.holdStill, .kk): "Қозғалмаңыз"
        case (.holdStill, .en): "Hold still"
        case (.lookStraight, .ru): "Смотрите прямо в камеру"
        case (.lookStraight, .kk): "Камераға тура қараңыз"
        case (.lookStraight, .en): "Look straight at the camera"
        case (.comeCloser, .ru): "Подойдите ближе"
        case (.comeCloser, .kk): "Жақынырақ келіңіз"
        case (.comeCloser, .en): "Come closer"
        case (.holdSharp, .ru): "Изображение размыто: не двигайтесь"
        case (.holdSharp, .kk): "Сурет бұлыңғыр: қозғалмаңыз"
        case (.holdSharp, .en): "The picture is blurred: hold still"
        }
    }
}

/// Fixed kiosk phrases.
public enum KioskText: Sendable {
    case guidance, passed, failed, noMatch, match

    public func text(_ language: Language) -> String {
        switch (self, language) {
        case (.guidance, .ru): "Подготовка: держите лицо в овале"
        case (.guidance, .kk): "Дайындық: бетіңізді сопақ ішінде ұстаңыз"
        case (.guidance, .en): "Getting ready: keep your face in the oval"
        case (.passed, .ru): "Проверка пройдена"
        case (.passed, .kk): "Тексеру сәтті өтті"
        case (.passed, .en): "Check passed"
        case (.failed, .ru): "Проверка не пройдена"
        case (.failed, .kk): "Тексеруден өтпеді"
        case (.failed, .en): "Check failed"
        case (.match, .ru): "Лицо совпадает с фото в реестре"
        case (.match, .kk): "Бет тізілімдегі суретке сәйкес келеді"
        case (.match, .en): "The face matches the registry photo"
        case (.noMatch, .ru): "Лицо не совпадает с фото в реестре"
        case (.noMatch, .kk): "Бет тізілімдегі суретке сәйкес келмейді"
        case (.noMatch, .en): "The face does not match the registry photo"
        }
    }
}
