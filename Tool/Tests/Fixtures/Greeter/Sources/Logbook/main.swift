import Logging

// autotrace:span
func checkIn(guest: String) {
    Logger(label: "logbook").info("checked in \(guest)")
}

Logger(label: "logbook").info("opening")
checkIn(guest: "ada")
